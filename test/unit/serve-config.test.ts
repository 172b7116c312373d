import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOptions, UsageError } from '../../src/cli/options.js';
import { SERVE_OPTIONS, serveConfig } from '../../src/cli/serve-config.js';

function configOf(argv: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof serveConfig> {
  return serveConfig(parseOptions(SERVE_OPTIONS, argv, env).values);
}

describe('serve configuration', () => {
  it('defaults are typed values, written once', () => {
    const config = configOf([]);
    assert.equal(config.port, 8443);
    assert.equal(config.watch, true);
    assert.equal(config.audit, true);
    assert.equal(config.policyReports, false);
    assert.equal(config.failurePolicy, 'Fail');
    assert.equal(config.timeoutSeconds, 5);
    assert.equal(config.webhookUrl, undefined);
    assert.deepEqual(config.inventory, []);
    const help = SERVE_OPTIONS.find((spec) => spec.name === 'port');
    assert.equal(help?.default, '8443', '--help shows the same default');
  });

  it('flags win over the environment, which wins over defaults', () => {
    assert.equal(configOf([], { PORT: '9443' }).port, 9443);
    assert.equal(configOf(['--port', '10443'], { PORT: '9443' }).port, 10443);
    assert.equal(configOf([], { WATCH: 'false' }).watch, false);
    assert.equal(configOf(['--failure-policy', 'Ignore']).failurePolicy, 'Ignore');
  });

  for (const [argv, pattern] of [
    [['--watch', 'flase'], /--watch must be true, false, not "flase"/],
    [['--audit', 'yes'], /--audit must be true, false, not "yes"/],
    [['--port', '84x3'], /--port must be a whole number from 0 to 65535/],
    [['--timeout-seconds', '31'], /--timeout-seconds must be a whole number from 1 to 30/],
    [['--failure-policy', 'fail'], /--failure-policy must be Fail, Ignore, not "fail"/],
    [['--cluster-cache', 'yes'], /--cluster-cache must be auto, on, off/],
    [['--log-level', 'verbose'], /--log-level must be fatal, error, warn, info, debug, trace, silent/],
    [['--webhook-url', 'http://example.com/'], /--webhook-url must be https/],
    [['--cert', 'c.pem'], /--cert and --key go together/],
    [['--certificates', 'managed', '--cert', 'c.pem', '--key', 'k.pem'], /are alternatives/],
  ] as const) {
    it(`refuses ${argv.join(' ')}`, () => {
      assert.throws(
        () => configOf([...argv]),
        (error: unknown) => error instanceof UsageError && pattern.test(error.message),
      );
    });
  }

  it('a typo in the environment is refused like one in a flag', () => {
    assert.throws(() => configOf([], { WATCH: 'ture' }), /--watch must be true, false, not "ture"/);
    assert.throws(() => configOf([], { WEBHOOK_TIMEOUT_SECONDS: '0' }), /--timeout-seconds must be a whole number/);
  });
});
