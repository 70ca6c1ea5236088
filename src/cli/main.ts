import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { action, exitWith } from './run.js';
import { startCommand } from './start.js';
import { configValidateCommand } from './configValidate.js';
import { migrationsUpCommand } from './migrations.js';
import { UserError } from '../core/errors.js';

/** The `tollgate` command line (SPEC §1). Exit codes: 0 ok, 1 runtime failure, 2 bad config/arguments. */
const program = new Command('tollgate')
  .description('tollgate: the secure front door of an AI platform')
  .version(VERSION)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('start')
  .description('run the gateway (TOLLGATE_CONFIG is the same as --config)')
  .option('-c, --config <file>', 'config file (YAML or JSON)')
  .action(action(startCommand));


const config = program.command('config').description('validate, export and import configuration');
config.command('validate <file>').description('exit 0 when valid, else 2 with one line per problem').action(action(configValidateCommand));

const migrations = program.command('migrations').description('store migrations');
migrations
  .command('up')
  .description('apply pending store migrations')
  .option('-c, --config <file>', 'config file naming the store')
  .action(action(migrationsUpCommand));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  }
  exitWith(err instanceof Error ? err : new UserError(String(err)));
}
