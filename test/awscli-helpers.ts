import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

/** Debian's AWS CLI, the one users run (not a pyenv shim that may come first on PATH). */
export const AWS = '/usr/bin/aws';
const CLI_TIMEOUT_MS = 30_000;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The server's port on 127.0.0.1. */
  port: () => number;
  /** HOME for the CLI (a temp folder: it may hold ~/.aws/models). */
  home: () => string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** Only what the CLI needs: no profile, no credentials file, no proxy, no pager, one attempt. */
function cliEnv(options: CliOptions, secret?: string): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/bin:/bin',
    HOME: options.home(),
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: options.accessKeyId ?? 'AKIDSLUICECLI',
    AWS_SECRET_ACCESS_KEY: secret ?? options.secretAccessKey ?? 'sluice-cli-secret',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_PAGER: '',
    AWS_CLI_AUTO_PROMPT: 'off',
    AWS_MAX_ATTEMPTS: '1',
    AWS_RETRY_MODE: 'standard',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
  };
}

/** `aws kinesis ...` against a test server, with helpers for the common assertions. */
export function awsCli(options: CliOptions) {
  /** Run `aws kinesis <args>`; resolves with the exit code and output. */
  const aws = (args: string[], secret?: string): Promise<CliResult> => {
    const argv = [
      '--endpoint-url',
      `http://127.0.0.1:${options.port()}`,
      '--region',
      'us-east-1',
      '--output',
      'json',
      'kinesis',
      ...args,
    ];
    return new Promise((resolve, reject) => {
      execFile(
        AWS,
        argv,
        {
          env: cliEnv(options, secret),
          timeout: CLI_TIMEOUT_MS,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          if (error && (error.killed || typeof error.code !== 'number')) {
            reject(new Error(`aws ${args.join(' ')} did not finish: ${error.message}\n${stderr}`));
            return;
          }
          resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
        },
      );
    });
  };

  /** A command that must succeed; its JSON output ({} for an empty output). */
  const awsJson = async <T = Record<string, unknown>>(args: string[]): Promise<T> => {
    const result = await aws(args);
    assert.equal(result.code, 0, `aws ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return (result.stdout.trim() === '' ? {} : JSON.parse(result.stdout)) as T;
  };

  /** A command whose output must be empty (control operations answer an empty object). */
  const awsQuiet = async (args: string[]): Promise<void> => {
    const result = await aws(args);
    assert.equal(result.code, 0, `aws ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    assert.equal(result.stdout, '', `aws ${args.join(' ')} prints nothing`);
  };

  /** A command that must fail with a service error: checks the line the CLI prints. */
  const awsError = async (
    args: string[],
    type: string,
    operation: string,
    message: string,
  ): Promise<void> => {
    const result = await aws(args);
    assert.equal(
      result.code,
      254,
      `aws ${args.join(' ')}: expected exit 254, got ${result.code}: ${result.stderr}`,
    );
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr.trim(),
      `An error occurred (${type}) when calling the ${operation} operation (reached max retries: 0): ${message}`,
    );
  };

  /** `aws --version`. */
  const version = (): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(AWS, ['--version'], { env: cliEnv(options), timeout: CLI_TIMEOUT_MS }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });

  return { aws, awsJson, awsQuiet, awsError, version };
}
