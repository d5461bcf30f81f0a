import { useEffect, useState } from 'preact/hooks';
import type { InstallGuide } from '../../lib/install-guide.js';
import { HostGuide } from '../common/HostGuide.js';
import type { LegacySetup, ProviderSummary } from '../../../shared/src/rpc.js';

type LegacyServer = LegacySetup['imap'];
import {
  credentialProblems,
  discoveredServersNote,
  failureSentence,
  normaliseDomain,
  passwordStrength,
  type SetupStep,
} from '../../lib/setup-flow.js';

export interface SetupActions {
  describeProvider(domain: string): Promise<ProviderSummary>;
  /** Servers of a legacy provider from its autoconfig file, or null. */
  discover(
    email: string,
  ): Promise<{ imap: LegacyServer; smtp: LegacyServer; source: string } | null>;
  runLegacy(setup: LegacySetup): Promise<{ email: string }>;
  run(
    mode: 'signUp' | 'logIn',
    credentials: { domain: string; username: string; password: string },
  ): Promise<{ email: string }>;
  openKeys(): void;
}

/** First run: provider → sign up or log in → progress → done. */
export function Setup({
  actions,
  progress,
  hostProblem,
  hostGuide = null,
  initialDomain = '',
  accounts = [],
}: {
  actions: SetupActions;
  /** A provider to look up at once (from the page's address, e.g. a link "set up at X"). */
  initialDomain?: string;
  /** Accounts the host already runs: a finished setup elsewhere shows as done here. */
  accounts?: string[];
  /** The host's latest progress message while working. */
  progress: string | null;
  /** Why the host cannot be reached (not installed, stopped), if so. */
  hostProblem: string | null;
  /** What to download and install when the program is missing or of another version. */
  hostGuide?: InstallGuide | null;
}) {
  const [step, setStep] = useState<SetupStep>('provider');
  const [domain, setDomain] = useState(initialDomain);
  const [provider, setProvider] = useState<ProviderSummary | null>(null);
  const [mode, setMode] = useState<'signUp' | 'logIn'>('signUp');
  const [form, setForm] = useState({ username: '', password: '', repeat: '' });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [legacy, setLegacy] = useState(false);
  const [email, setEmail] = useState('');

  const lookUp = async (event?: Event) => {
    event?.preventDefault();
    const d = normaliseDomain(domain);
    if (!d) return setError('That does not look like a domain name, e.g. example.org.');
    setBusy(true);
    setError(null);
    try {
      const p = await actions.describeProvider(d);
      setProvider(p);
      setMode(p.allowRegistration ? 'signUp' : 'logIn');
      setStep('account');
    } catch (e) {
      setError(failureSentence(e));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (initialDomain) void lookUp();
  }, []);
  useEffect(() => {
    if (accounts.length > 0 && step !== 'working' && step !== 'done') {
      setEmail(accounts[0]!);
      setStep('done');
    }
  }, [accounts.join()]);

  const problems = credentialProblems(mode, form);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!provider || problems.length > 0) return;
    setStep('working');
    setError(null);
    try {
      const done = await actions.run(mode, {
        domain: provider.domain,
        username: form.username.trim(),
        password: form.password,
      });
      setEmail(done.email);
      setStep('done');
    } catch (e) {
      setError(failureSentence(e));
      setStep('account');
    }
  };

  const strength = passwordStrength(form.password);
  const field = (name: keyof typeof form) => ({
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value }),
  });

  return (
    <div class="setup">
      <h1>Set up secure mail</h1>
      <ol class="steps" aria-label="Steps">
        <li class={step === 'provider' ? 'current' : 'past'}>Provider</li>
        <li class={step === 'account' ? 'current' : step === 'provider' ? '' : 'past'}>Account</li>
        <li class={step === 'working' || step === 'done' ? 'current' : ''}>Ready</li>
      </ol>
      {hostGuide && <HostGuide guide={hostGuide} />}
      {hostProblem && <p class="error">{hostProblem}</p>}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}

      {step === 'provider' && (
        <form onSubmit={lookUp}>
          <label>
            Your provider’s domain
            <input
              name="domain"
              placeholder="example.org"
              autoFocus
              value={domain}
              onInput={(e) => setDomain((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" disabled={busy || !domain.trim()}>
            {busy ? 'Contacting the provider…' : 'Continue'}
          </button>
          <p class="muted">
            <a href="#" onClick={(e) => (e.preventDefault(), setLegacy(!legacy))}>
              Use another provider (any IMAP/SMTP account)
            </a>
          </p>
        </form>
      )}
      {step === 'provider' && legacy && (
        <LegacyForm
          actions={actions}
          onDone={(done) => {
            setEmail(done);
            setStep('done');
          }}
        />
      )}

      {step === 'account' && provider && (
        <form onSubmit={submit}>
          <div class="provider">
            <strong>{provider.name}</strong> <span class="muted">({provider.domain})</span>
            <p>{provider.description}</p>
            <p class="muted">
              {provider.allowRegistration
                ? 'This provider accepts new accounts.'
                : 'This provider does not accept new accounts: log in with an existing one.'}
            </p>
          </div>
          <div class="tabs" role="tablist">
            <button
              type="button"
              role="tab"
              aria-selected={mode === 'signUp'}
              disabled={!provider.allowRegistration}
              onClick={() => setMode('signUp')}
            >
              New account
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={mode === 'logIn'}
              onClick={() => setMode('logIn')}
            >
              I have an account
            </button>
          </div>
          <label>
            Username
            <span class="with-domain">
              <input name="username" autoComplete="username" {...field('username')} />
              <span class="muted">@{provider.domain}</span>
            </span>
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autoComplete={mode === 'signUp' ? 'new-password' : 'current-password'}
              {...field('password')}
            />
          </label>
          {mode === 'signUp' && (
            <>
              {strength.words && (
                <p class={`strength s${strength.score}`} aria-live="polite">
                  {strength.words}
                </p>
              )}
              <label>
                Password again
                <input
                  name="repeat"
                  type="password"
                  autoComplete="new-password"
                  {...field('repeat')}
                />
              </label>
              <p class="muted">
                Your password never leaves this computer and cannot be recovered: it also unlocks
                your keys.
              </p>
            </>
          )}
          {form.username && form.password && problems.length > 0 && (
            <ul class="problems">
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
          <button type="submit" disabled={problems.length > 0}>
            {mode === 'signUp' ? 'Create my account' : 'Log in'}
          </button>{' '}
          <button type="button" class="link" onClick={() => setStep('provider')}>
            Back
          </button>
        </form>
      )}

      {step === 'working' && (
        <div aria-busy="true">
          <p>
            <span class="spinner" /> Setting up {form.username.trim()}@{provider?.domain}…
          </p>
          <p class="muted">
            {progress ??
              'Creating your encryption key, publishing it and starting the first sync. This can take a minute.'}
          </p>
        </div>
      )}

      {step === 'done' && (
        <div>
          <p class="ok">
            <strong>{email}</strong> is ready. Thunderbird now shows its Inbox.
          </p>
          <p>
            Mail to people whose keys LeapBird finds is encrypted and signed automatically; the
            toolbar button and the badges on each message tell you what is protected.
          </p>
          <button type="button" onClick={() => actions.openKeys()}>
            See your key
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * Any IMAP/SMTP provider: address and password; the servers are looked up in the provider's
 * autoconfig file and stay editable. Less protection than a LEAP provider, said plainly.
 */
export function LegacyForm({
  actions,
  onDone,
}: {
  actions: SetupActions;
  onDone: (email: string) => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [imap, setImap] = useState<LegacyServer>({ host: '', port: 993, security: 'tls' });
  const [smtp, setSmtp] = useState<LegacyServer>({ host: '', port: 465, security: 'tls' });
  const [note, setNote] = useState<string | null>(null);
  /** Servers an autoconfig file named wait for the person's confirmation. */
  const [named, setNamed] = useState(false);
  const [confirmed, setConfirmed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const find = async () => {
    if (!email.includes('@')) return;
    const found = await actions.discover(email.trim()).catch(() => null);
    if (found) {
      setImap(found.imap);
      setSmtp(found.smtp);
      setNote(discoveredServersNote(found));
      setNamed(true);
      setConfirmed(false);
    } else {
      const domain = email.split('@')[1] ?? '';
      setImap((s) => (s.host ? s : { ...s, host: `imap.${domain}` }));
      setSmtp((s) => (s.host ? s : { ...s, host: `smtp.${domain}` }));
      setNote('Your provider publishes no settings; check the servers below.');
    }
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const done = await actions.runLegacy({ email: email.trim(), password, imap, smtp });
      onDone(done.email);
    } catch (e) {
      setError(failureSentence(e));
    } finally {
      setBusy(false);
    }
  };
  const server = (label: string, value: LegacyServer, set: (s: LegacyServer) => void) => (
    <fieldset>
      <legend>{label}</legend>
      <input
        aria-label={`${label} host`}
        value={value.host}
        onInput={(e) => set({ ...value, host: (e.target as HTMLInputElement).value })}
      />
      <input
        aria-label={`${label} port`}
        type="number"
        value={value.port}
        onInput={(e) => set({ ...value, port: Number((e.target as HTMLInputElement).value) })}
      />
      <select
        aria-label={`${label} security`}
        value={value.security}
        onChange={(e) =>
          set({
            ...value,
            security: (e.target as HTMLSelectElement).value as LegacyServer['security'],
          })
        }
      >
        <option value="tls">TLS</option>
        <option value="starttls">STARTTLS</option>
      </select>
    </fieldset>
  );
  return (
    <form class="legacy" onSubmit={submit}>
      <p class="notice">
        With an ordinary provider, LeapBird encrypts your mail once it reaches this computer and
        replaces the provider's copy with an encrypted one, but the provider sees each message
        before that.
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <label>
        Email address
        <input
          name="email"
          type="email"
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          onBlur={() => void find()}
        />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
      </label>
      {note && <p class="muted">{note}</p>}
      {server('Incoming (IMAP)', imap, setImap)}
      {server('Outgoing (SMTP)', smtp, setSmtp)}
      {named && (
        <label>
          <input
            type="checkbox"
            checked={confirmed}
            onChange={(e) => setConfirmed((e.target as HTMLInputElement).checked)}
          />
          These are my provider’s servers
        </label>
      )}
      <button
        type="submit"
        disabled={
          busy ||
          (named && !confirmed) ||
          !email.includes('@') ||
          !password ||
          !imap.host ||
          !smtp.host
        }
      >
        {busy ? 'Checking the password…' : 'Set up'}
      </button>
    </form>
  );
}
