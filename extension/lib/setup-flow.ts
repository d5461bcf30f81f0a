/**
 * The setup wizard's decisions: which step, what is wrong with the form, how strong a
 * password is, and which sentence a failure becomes. Pure, so the wizard stays a view.
 */
import { RpcError } from '../../shared/src/errors.js';

export type SetupStep = 'provider' | 'account' | 'working' | 'done';

/** "Mail.Example.org." → "mail.example.org"; null when it cannot be a domain. */
export function normaliseDomain(input: string): string | null {
  const d = input
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/\/.*$/, '')
    .replace(/\.$/, '');
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/.test(
    d,
  )
    ? d
    : null;
}

export interface StrengthHint {
  /** 0 (unusable) to 4 (strong). */
  score: 0 | 1 | 2 | 3 | 4;
  words: string;
}

/**
 * A rough strength estimate from length and variety: the password also protects the keys
 * stored at the provider, so short ones get a plain warning.
 */
export function passwordStrength(password: string): StrengthHint {
  if (password.length === 0) return { score: 0, words: '' };
  if (password.length < 8) return { score: 0, words: 'Too short: use at least 8 characters.' };
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) =>
    r.test(password),
  ).length;
  const distinct = new Set(password).size;
  if (distinct <= 3) return { score: 1, words: 'Weak: too many repeated characters.' };
  const bits = password.length * Math.log2(Math.min(95, [26, 36, 62, 95][classes - 1] ?? 26));
  if (bits < 50) return { score: 1, words: 'Weak: longer is better, e.g. a few unrelated words.' };
  if (bits < 70) return { score: 2, words: 'Fair: a few more characters would make it strong.' };
  if (bits < 90) return { score: 3, words: 'Good.' };
  return { score: 4, words: 'Strong.' };
}

/** What stops the form from being sent, in words; empty when it can go. */
export function credentialProblems(
  mode: 'signUp' | 'logIn',
  form: { username: string; password: string; repeat: string },
): string[] {
  const problems: string[] = [];
  const user = form.username.trim();
  if (!user) problems.push('Enter a username.');
  else if (!/^[a-z0-9][a-z0-9._-]*$/i.test(user) || user.includes('@'))
    problems.push('A username has letters, digits, dots, dashes and underscores only (no "@").');
  if (!form.password) problems.push('Enter a password.');
  if (mode === 'signUp') {
    if (form.password && passwordStrength(form.password).score === 0)
      problems.push('The password is too short: use at least 8 characters.');
    if (form.password !== form.repeat) problems.push('The two passwords are not the same.');
  }
  return problems;
}

/**
 * A failure as one sentence. The host's errors are already written for people; what the
 * add-on adds is the case where there is no host to ask.
 */
export function failureSentence(error: unknown): string {
  const e = RpcError.from(error);
  if (e.code === 'host_missing')
    return 'The LeapBird program is not installed on this computer: see above for what to download and how to install it.';
  if (e.code === 'host_outdated') return e.message;
  if (e.code === 'host_unavailable')
    return 'The LeapBird program is not running right now; it is being restarted. Try again in a moment.';
  return e.message;
}

/** A legacy server as the form holds it. */
export interface ServerChoice {
  host: string;
  port: number;
  security: 'tls' | 'starttls';
}

/**
 * What the form says about servers an autoconfig file named: the file came over HTTPS, but
 * whoever controls the provider's web server (or its DNS) chooses where the password goes,
 * so the person sees each server and confirms it before anything is sent there.
 */
export function discoveredServersNote(found: {
  imap: ServerChoice;
  smtp: ServerChoice;
  source: string;
}): string {
  const name = (s: ServerChoice) =>
    `${s.host}, port ${s.port} (${s.security === 'tls' ? 'TLS' : 'STARTTLS'})`;
  return `${found.source} names these servers: incoming mail ${name(found.imap)}, outgoing mail ${name(found.smtp)}. Your password will be sent to them: check that they belong to your provider, then confirm below.`;
}
