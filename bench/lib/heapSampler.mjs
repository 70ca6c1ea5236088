// Preloaded into the gateway by bench/alloc.ts (`--import`): on SIGUSR2, samples every
// allocation (kept or collected) for HEAP_SAMPLE_MS and writes the profile to HEAP_SAMPLE_OUT.
/* global process, setTimeout */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
await post('HeapProfiler.enable');
process.on('SIGUSR2', async () => {
  await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  setTimeout(async () => {
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(process.env.HEAP_SAMPLE_OUT, JSON.stringify(profile));
    process.stderr.write('heap-sample-written\n');
  }, Number(process.env.HEAP_SAMPLE_MS ?? 3000));
});
