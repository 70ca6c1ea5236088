import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { action, exitWith } from './run.js';
import { UserError } from '../core/errors.js';

/**
 * The `tollgate` command line (SPEC §1). Exit codes: 0 ok, 1 runtime failure, 2 bad config or
 * arguments. Each command's module is imported only when that command runs, so quick commands
 * (`config validate`, `token mint`) do not load the whole gateway.
 */
const program = new Command('tollgate')
  .description('tollgate: the secure front door of an AI platform')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('start')
  .description('run the gateway (TOLLGATE_CONFIG is the same as --config)')
  .option('-c, --config <file>', 'config file (YAML or JSON)')
  .action(action(async (opts: { config?: string }) => (await import('./start.js')).startCommand(opts)));

program
  .command('demo')
  .description('gateway + demo AI services (LLM, agent router, MCP), ready to curl')
  .action(action(async () => (await import('./demo.js')).demoCommand()));

const config = program.command('config').description('validate, export and import configuration');
config
  .command('validate <file>')
  .description('exit 0 when valid, else 2 with one line per problem')
  .action(action(async (file: string) => (await import('./configValidate.js')).configValidateCommand(file)));

const audit = program.command('audit').description('audit log tools');
audit
  .command('verify <files...>')
  .description('check the hash chain of audit files (rotated ones first, oldest to newest); exit 0 intact, 1 with the first broken line')
  .action(action(async (files: string[]) => (await import('./auditVerify.js')).auditVerifyCommand(files)));

config
  .command('export')
  .description('stored consumers, credentials and workspaces as declarative YAML (kong config db_export)')
  .option('-c, --config <file>', 'config file naming the store')
  .option('-o, --out <file>', 'write here instead of stdout')
  .action(action(async (opts: { config?: string; out?: string }) => (await import('./configExport.js')).configExportCommand(opts)));
config
  .command('import <file>')
  .description('merge a file written by `config export` into the store (kong config db_import)')
  .option('-c, --config <file>', 'config file naming the store')
  .action(action(async (file: string, opts: { config?: string }) => (await import('./configImport.js')).configImportCommand(file, opts)));

program
  .command('keys')
  .description('signing keys')
  .command('generate')
  .description('RS256 key pair (PEM) plus its JWK with a kid')
  .option('--bits <n>', 'RSA modulus length', '4096')
  .option('--out <dir>', 'directory for private.pem, public.pem, jwk.json', '.')
  .action(action(async (opts: { bits?: string; out?: string }) => (await import('./keys.js')).keysGenerateCommand(opts)));

program
  .command('token')
  .description('development tokens')
  .command('mint')
  .description("mint a JWT like the seed's Python snippet (kid in the payload, scopes array)")
  .requiredOption('--key <pem>', 'private key PEM file')
  .requiredOption('--iss <key>', 'issuer: the jwt credential key (key_claim_name)')
  .requiredOption('--sub <user>', 'subject: the user id')
  .option('--aud <audience>', 'audience, e.g. ai-platform')
  .option('--scopes <list>', 'comma-separated scopes, e.g. api.read,api.write')
  .option('--ttl <duration>', 'lifetime such as 1h, 30m or 3600', '1h')
  .action(action(async (opts: import('./token.js').TokenMintArgs) => (await import('./token.js')).tokenMintCommand(opts)));

const migrations = program.command('migrations').description('store migrations');
migrations
  .command('up')
  .description('apply pending store migrations')
  .option('-c, --config <file>', 'config file naming the store')
  .action(action(async (opts: { config?: string }) => (await import('./migrations.js')).migrationsUpCommand(opts)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // `--help` and `--version` asked for it; `commander.help` is help shown because a command
    // is missing (`tollgate`, `tollgate config`): a bad invocation, exit 2.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
    process.exit(2);
  }
  exitWith(err instanceof Error ? err : new UserError(String(err)));
}
