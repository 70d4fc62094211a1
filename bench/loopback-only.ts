/**
 * Preloaded (`node --import ./dist/bench/loopback-only.js`) into a peer server that binds every
 * interface with no option to change it (kinesis-local binds 0.0.0.0): every TCP listen goes to
 * 127.0.0.1 instead, so the benchmarks serve nothing beyond this machine.
 */
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const [first, second] = args;
  if (typeof first === 'object' && first !== null && !('_handle' in first)) {
    args[0] = { ...(first as net.ListenOptions), host: '127.0.0.1' };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (typeof second === 'string') args[1] = '127.0.0.1';
    else args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof net.Server.prototype.listen;
