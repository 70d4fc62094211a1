import { writeFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { chaos as bounds } from '../limits.js';
import { AdminClient } from './client.js';
import { parseDuration } from './duration.js';
import { rehearse, toMarkdown } from './rehearse.js';
import type { Effect, RuleSpec, RuleView } from './rules.js';
import { readScenario } from './scenario.js';

/** `sluice faults`, `sluice dependents` and `sluice rehearse`: clients of the admin API. */

const defaultAdmin = `http://127.0.0.1:${bounds.defaultAdminPort}`;

const list = (value: string) =>
  value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);

function duration(what: string) {
  return (value: string) => {
    try {
      return parseDuration(value, what);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

function number(min: number, max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`must be a number from ${min} to ${max}`);
    return n;
  };
}

/**
 * An effect written on the command line: `error:InternalFailure`, `latency:200`,
 * `latency:100-300` (uniform), `latency:200~50` (normal: mean~stddev), `partial:0.3`, `reset`,
 * `hang[:ms]`, `cut[:afterMs]`, `routing-unavailable[:unavailableFraction]`.
 */
export function parseEffect(text: string, opts: Record<string, unknown>): Effect {
  const [type = '', arg] = text.split(/:(.*)/s);
  const num = (value: string | undefined, what: string) => {
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n))
      throw new Error(`${text}: ${what} must be a number`);
    return n;
  };
  switch (type) {
    case 'error':
      if (!arg) throw new Error('error needs a name: error:InternalFailure');
      return {
        type: 'error',
        error: arg,
        message: opts.message as string | undefined,
        status: opts.status as number | undefined,
      };
    case 'latency': {
      if (arg?.includes('~')) {
        const [mean, sd] = arg.split('~');
        return {
          type: 'latency',
          distribution: 'normal',
          meanMs: num(mean, 'mean'),
          stdDevMs: num(sd, 'deviation'),
        };
      }
      if (arg?.includes('-')) {
        const [min, max] = arg.split('-');
        return { type: 'latency', distribution: 'uniform', minMs: num(min, 'min'), maxMs: num(max, 'max') };
      }
      return { type: 'latency', distribution: 'fixed', ms: num(arg, 'latency') };
    }
    case 'partial':
      return {
        type: 'partial',
        fraction: num(arg, 'fraction'),
        errorCode: opts.errorCode as 'ProvisionedThroughputExceededException' | 'InternalFailure' | undefined,
      };
    case 'reset':
      return { type: 'reset' };
    case 'hang':
      return { type: 'hang', maxMs: arg ? parseDuration(arg, 'hang') : undefined };
    case 'cut':
      return {
        type: 'cut',
        afterMs: arg ? parseDuration(arg, 'cut') : undefined,
        afterEvents: opts.afterEvents as number | undefined,
        how: opts.how as 'reset' | 'error' | undefined,
      };
    case 'routing-unavailable':
      return { type: 'routing-unavailable', unavailableFraction: arg ? num(arg, 'fraction') : undefined };
    default:
      throw new Error(
        `unknown effect ${text}: use error:<Name>, latency:<ms>|<min>-<max>|<mean>~<sd>, partial:<fraction>, reset, hang[:ms], cut[:ms], routing-unavailable[:fraction]`,
      );
  }
}

function describeRule(rule: RuleView): string {
  const effect = rule.effect;
  const what =
    effect.type === 'error'
      ? `error ${effect.error}`
      : effect.type === 'latency'
        ? `latency ${effect.distribution === 'normal' ? `${effect.meanMs}~${effect.stdDevMs}` : effect.distribution === 'uniform' ? `${effect.minMs}-${effect.maxMs}` : effect.ms} ms`
        : effect.type === 'partial'
          ? `partial ${effect.fraction} ${effect.errorCode}`
          : effect.type;
  const where = [
    rule.operations?.join(',') ?? 'any operation',
    rule.streams ? `streams ${rule.streams.join(',')}` : 'any stream',
    rule.shards ? `shards ${rule.shards.join(',')}` : '',
    rule.accessKeyIds ? `keys ${rule.accessKeyIds.join(',')}` : '',
    rule.userAgents ? `agents ${rule.userAgents.join(',')}` : '',
    rule.sourceAddresses ? `from ${rule.sourceAddresses.join(',')}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${rule.id.padEnd(24)} ${rule.state.padEnd(8)} p=${rule.probabilityNow.toFixed(2)}/${rule.probability} ${what} on ${where}; ${rule.hits}/${rule.matched} hit${rule.endsAt ? `; ends ${rule.endsAt}` : ''}`;
}

function adminOf(cmd: Command): AdminClient {
  return new AdminClient((cmd.optsWithGlobals().admin as string | undefined) ?? defaultAdmin);
}

export function addChaosCommands(program: Command): void {
  const faults = program
    .command('faults')
    .description('fault rules and scenarios of a running server (through its admin API)')
    .option('--admin <url>', 'the admin API', defaultAdmin);

  faults
    .command('list')
    .description('the rules held, their state and how often they hit')
    .option('--json', 'print JSON', false)
    .action(async (opts, cmd: Command) => {
      const answer = await adminOf(cmd).call<{ rules: RuleView[]; scenario: unknown }>('GET', '/faults');
      if (opts.json) return void console.log(JSON.stringify(answer, null, 2));
      if (answer.rules.length === 0) console.log('no rules');
      for (const rule of answer.rules) console.log(describeRule(rule));
    });

  faults
    .command('add')
    .description(
      'add a rule: effect error:<Name> | latency:<ms>|<min>-<max>|<mean>~<sd> | partial:<fraction> | reset | hang[:ms] | cut[:ms] | routing-unavailable[:fraction]',
    )
    .argument('[effect]', 'what the rule does (or give --file)')
    .option('--file <file>', 'rules from a JSON file (a rule, a list, or {"rules": [...]})')
    .option('--id <id>', 'name of the rule')
    .option('--description <text>', 'what it stands for')
    .option('--operations <list>', 'operations it matches (comma-separated)', list)
    .option('--streams <list>', 'streams it matches (* matches any characters)', list)
    .option('--shards <list>', 'shards it matches', list)
    .option('--access-key-ids <list>', 'callers by access key id', list)
    .option('--user-agents <list>', 'callers by a substring of their user agent', list)
    .option('--source-addresses <list>', 'callers by address', list)
    .option('--probability <p>', 'chance a matching request is affected', number(0, 1))
    .option('--start <duration>', 'start after this long', duration('start'))
    .option('--duration <duration>', 'last this long (default: until removed)', duration('duration'))
    .option('--ramp <duration>', 'raise the probability linearly over this long', duration('ramp'))
    .option('--message <text>', 'error message (error effects)')
    .option('--status <code>', 'HTTP status (error effects)', number(400, 599))
    .addOption(
      new Option('--error-code <code>', 'per-record error (partial)').choices([
        'ProvisionedThroughputExceededException',
        'InternalFailure',
      ]),
    )
    .addOption(new Option('--how <how>', 'how a cut ends the stream').choices(['reset', 'error']))
    .option('--after-events <n>', 'cut after this many event messages', number(1, 1_000_000))
    .action(async (effectText: string | undefined, opts, cmd: Command) => {
      let body: unknown;
      if (opts.file) {
        const doc = readScenario(opts.file);
        body = { rules: doc.rules };
      } else {
        if (!effectText) throw new Error('give an effect or --file');
        const rule: RuleSpec = {
          id: opts.id,
          description: opts.description,
          operations: opts.operations,
          streams: opts.streams,
          shards: opts.shards,
          accessKeyIds: opts.accessKeyIds,
          userAgents: opts.userAgents,
          sourceAddresses: opts.sourceAddresses,
          probability: opts.probability,
          start: opts.start,
          duration: opts.duration,
          ramp: opts.ramp,
          effect: parseEffect(effectText, opts),
        };
        body = JSON.parse(JSON.stringify(rule));
      }
      const answer = await adminOf(cmd).call<{ rules: RuleView[] }>('POST', '/faults', body);
      for (const rule of answer.rules) console.log(describeRule(rule));
    });

  faults
    .command('remove')
    .description('remove a rule')
    .argument('<id>')
    .action(async (id: string, _opts, cmd: Command) => {
      await adminOf(cmd).call('DELETE', `/faults/${encodeURIComponent(id)}`);
      console.log(`removed ${id}`);
    });

  faults
    .command('clear')
    .description('remove every rule and stop the scenario')
    .action(async (_opts, cmd: Command) => {
      const answer = await adminOf(cmd).call<{ removed: number }>('DELETE', '/faults');
      console.log(`removed ${answer.removed} rules`);
    });

  faults
    .command('scenario')
    .description('replay a scenario on the server: a built-in name (nov-2020) or a JSON file; --stop ends it')
    .argument('[scenario]')
    .option('--speed <n>', 'replay this many times faster than written', number(1e-6, 1e7))
    .option('--duration <duration>', 'fit the scenario into this wall time', duration('duration'))
    .option('--streams <list>', 'point every rule at these streams', list)
    .option('--start-in <duration>', 'start after this long', duration('start-in'))
    .option('--stop', 'stop the running scenario', false)
    .action(async (name: string | undefined, opts, cmd: Command) => {
      const admin = adminOf(cmd);
      if (opts.stop) {
        const answer = await admin.call<{ removed: number }>('DELETE', '/scenarios');
        return void console.log(`stopped (${answer.removed} rules removed)`);
      }
      if (!name) throw new Error('name a scenario (nov-2020) or a file');
      const answer = await admin.call<{
        scenario: { name: string; speed: number; faultEndMs: number };
        rules: RuleView[];
      }>('POST', '/scenarios', {
        scenario: readScenario(name),
        speed: opts.speed,
        duration: opts.duration,
        streams: opts.streams,
        startIn: opts.startIn,
      });
      console.log(
        `scenario ${answer.scenario.name} at ${answer.scenario.speed}x, ${answer.rules.length} rules, faults end at ${new Date(answer.scenario.faultEndMs).toISOString()}`,
      );
    });

  program
    .command('dependents')
    .description('who writes and reads each stream, with rates and errors (the blast radius of each stream)')
    .option('--admin <url>', 'the admin API', defaultAdmin)
    .addOption(
      new Option('--format <format>', 'output').choices(['table', 'json', 'mermaid', 'dot']).default('table'),
    )
    .option('--reset', 'forget everything seen so far', false)
    .action(async (opts, cmd: Command) => {
      const admin = adminOf(cmd);
      if (opts.reset) {
        await admin.call('DELETE', '/dependents');
        return void console.log('dependents map reset');
      }
      const answer = await admin.call<unknown>('GET', `/dependents?format=${opts.format}`);
      process.stdout.write(typeof answer === 'string' ? answer : `${JSON.stringify(answer, null, 2)}\n`);
    });

  program
    .command('rehearse')
    .description('replay a scenario against a running server and report how each dependent behaved')
    .argument('<scenario>', 'a built-in scenario (nov-2020) or a JSON file')
    .option('--admin <url>', 'the admin API', defaultAdmin)
    .option(
      '--speed <n>',
      'replay this many times faster than written (nov-2020: 360, the day in 3 min)',
      number(1e-6, 1e7),
    )
    .option('--duration <duration>', 'fit the scenario into this wall time', duration('duration'))
    .option('--streams <list>', 'point every rule at these streams', list)
    .option('--baseline <duration>', 'watch this long before the faults', duration('baseline'))
    .option('--observe <duration>', 'watch this long after the faults', duration('observe'))
    .option('--sample <duration>', 'sample the dependents map this often', duration('sample'))
    .addOption(
      new Option('--format <format>', 'report on stdout').choices(['markdown', 'json']).default('markdown'),
    )
    .option('--out <file>', 'write the markdown report here')
    .option('--json <file>', 'write the JSON report here')
    .action(async (name: string, opts, cmd: Command) => {
      const admin = adminOf(cmd);
      const scenario = readScenario(name);
      const stop = () => {
        console.error('interrupted: stopping the scenario');
        admin.call('DELETE', '/scenarios').finally(() => process.exit(130));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const report = await rehearse({
        admin,
        scenario,
        speed: opts.speed,
        durationMs: opts.duration,
        streams: opts.streams,
        baselineMs: opts.baseline,
        observeMs: opts.observe,
        sampleMs: opts.sample,
        log: (line) => console.error(line),
      });
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      const markdown = toMarkdown(report);
      if (opts.out) writeFileSync(opts.out, markdown);
      if (opts.json) writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
      if (opts.format === 'json') console.log(JSON.stringify(report, null, 2));
      else if (!opts.out) process.stdout.write(markdown);
    });
}
