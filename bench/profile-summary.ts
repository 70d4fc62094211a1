/**
 * Summarize a V8 .cpuprofile (from `npm run bench -- --profile DIR`): self time by function and by
 * source file, and total (inclusive) time of Sluice's own functions.
 *
 *   node dist/bench/profile-summary.js DIR/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' } },
  allowPositionals: true,
});
const top = Number(values.top);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  // Percentages are of the time the process was busy: (idle) is the event loop waiting.
  let idle = 0;
  for (const [id, t] of self)
    if ((byId.get(id) as ProfileNode).callFrame.functionName === '(idle)') idle += t;
  const sampled = [...self.values()].reduce((a, b) => a + b, 0);
  const total = sampled - idle;
  const short = (url: string) =>
    url
      .replace(/^file:\/\//, '')
      .replace(/^.*\/node_modules\//, 'node_modules/')
      .replace(/^.*\/dist\//, 'dist/');
  const name = (f: CallFrame) =>
    `${f.functionName || '(anonymous)'} ${short(f.url) || '(native)'}:${f.lineNumber + 1}`;

  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusiveOwn = new Map<string, number>();
  for (const [id, t] of self) {
    const node = byId.get(id) as ProfileNode;
    if (node.callFrame.functionName === '(idle)') continue;
    selfByFunction.set(name(node.callFrame), (selfByFunction.get(name(node.callFrame)) ?? 0) + t);
    const f = short(node.callFrame.url) || `(${node.callFrame.functionName || 'native'})`;
    selfByFile.set(f, (selfByFile.get(f) ?? 0) + t);
    // Inclusive time of each of Sluice's own functions on the stack (counted once per sample).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      if (!frame.url.includes('/dist/src/')) continue;
      const key = name(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveOwn.set(key, (inclusiveOwn.get(key) ?? 0) + t);
    }
  }
  const pct = (t: number) => `${((t / total) * 100).toFixed(1).padStart(5)}%`;
  const print = (title: string, m: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
  };
  console.log(
    `${file}: ${(sampled / 1e6).toFixed(1)} s sampled, ${((idle / sampled) * 100).toFixed(0)}% idle; percentages are of the ${(total / 1e6).toFixed(1)} s busy`,
  );
  print('self time by function', selfByFunction);
  print('self time by file', selfByFile);
  print("inclusive time of Sluice's functions (dist/src)", inclusiveOwn);

  // Stretches of consecutive busy samples: the event loop did not get back to waiting for I/O
  // in between, so every request waiting on it was delayed by that much.
  const stretches: { ms: number; top: string }[] = [];
  let run = 0;
  let runByFn = new Map<string, number>();
  const close = () => {
    if (run > 0) {
      const top = [...runByFn].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
      stretches.push({ ms: run / 1000, top });
    }
    run = 0;
    runByFn = new Map();
  };
  profile.samples.forEach((id, i) => {
    const node = byId.get(id) as ProfileNode;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (node.callFrame.functionName === '(idle)') {
      close();
      return;
    }
    run += dt;
    // Attribute the stretch to the outermost Sluice function on the stack.
    let outer = '';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      if (frame.url.includes('/dist/src/')) outer = name(frame);
    }
    const leaf = outer || name(node.callFrame);
    runByFn.set(leaf, (runByFn.get(leaf) ?? 0) + dt);
  });
  close();
  stretches.sort((a, b) => b.ms - a.ms);
  const ms = stretches.map((x) => x.ms).sort((a, b) => a - b);
  const at = (p: number) => ms[Math.min(ms.length - 1, Math.ceil(ms.length * p) - 1)]?.toFixed(1);
  console.log(
    `\nbusy stretches (event loop not idle between samples): ${ms.length}, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms; longest:`,
  );
  for (const x of stretches.slice(0, 8)) console.log(`${x.ms.toFixed(1).padStart(8)} ms  mostly ${x.top}`);
}
