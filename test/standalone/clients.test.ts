/**
 * Other mail clients against the standalone host, as their users run them: mutt (Debian's
 * package) lists, reads and sends in batch mode; mbsync (Debian's isync) pulls the mailboxes
 * into a Maildir, pushes flag changes back, and a second run with no changes transfers
 * nothing; curl sends over SMTP. The configuration is what `leapbird-host credentials`
 * prints, the certificate the one file it names. What they send arrives at Bob, at the
 * provider's Dovecot, encrypted to him and signed by Alice.
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMessage } from '../../native-host/src/crypto/index.js';
import {
  api,
  deliverMail,
  inbox,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from '../provider/helpers.js';
import { waitFor } from '../helpers/wait.js';
import {
  cli,
  credentialsOf,
  standalonePlace,
  startServe,
  type ClientSettings,
  type Place,
  type ServeProcess,
} from './helpers.js';

const run = promisify(execFile);
const PASSWORD = 'alice uses mutt';

describe('mutt, mbsync and curl against the standalone host', () => {
  let provider: TestProvider;
  let place: Place;
  let serve: ServeProcess | null = null;
  let alice: ClientSettings;
  let bob: MailAccount;
  let bobKey: string;
  let work: string;
  let clientEnv: NodeJS.ProcessEnv;

  /** Alice's local view of a mailbox (what every client is served): subject and flags. */
  async function localView(mailbox = 'INBOX') {
    const client = new ImapFlow({
      host: alice.imap.host,
      port: alice.imap.port,
      secure: true,
      tls: { ca: readFileSync(alice.certificateFile, 'utf8') },
      auth: { user: alice.username, pass: alice.password },
      logger: false,
    });
    client.on('error', () => {});
    await client.connect();
    try {
      const lock = await client.getMailboxLock(mailbox);
      try {
        const seen: { uid: number; subject: string; flags: string[] }[] = [];
        if (client.mailbox && client.mailbox.exists > 0)
          for await (const m of client.fetch('1:*', { uid: true, flags: true, envelope: true }))
            seen.push({
              uid: m.uid,
              subject: m.envelope?.subject ?? '',
              flags: [...(m.flags ?? [])].sort(),
            });
        return seen;
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  }

  /** What Bob's mailbox at the provider holds from Alice, opened with his key. */
  async function bobReceived(subject: string) {
    const aliceKey = (
      await api(provider, 'GET', `/nicknym?address=${encodeURIComponent(alice.email)}`)
    ).json as { openpgp: string };
    const found = await waitFor(
      `"${subject}" at Bob's`,
      async () => {
        for (const source of await inbox(provider, bob)) {
          const opened = await openMessage(source, {
            decryptionKeys: [bobKey],
            senderKeys: () => [aliceKey.openpgp],
          });
          if (opened.ok && opened.value.message.toString('utf8').includes(`Subject: ${subject}`))
            return { source, opened: opened.value };
        }
        return undefined;
      },
      60_000,
      500,
    );
    return found;
  }

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    await newAccount(provider, 'alice', PASSWORD);
    bob = await newAccount(provider, 'bob');
    const key = await makeKey(bob.address);
    bobKey = key.privateKey;
    expect((await uploadKey(provider, bob, key.publicKey)).status).toBe(200);
    place = standalonePlace(provider);
    serve = await startServe(place);
    const login = await cli(place, ['login', 'alice@alpha.test', '--password-stdin'], PASSWORD);
    if (login.code !== 0) throw new Error(login.stderr);
    alice = await credentialsOf(place, 'alice@alpha.test');
    for (const i of [1, 2, 3])
      await deliverMail(provider, {
        from: 'carol@outside.test',
        to: alice.email,
        subject: `Hello ${i}`,
        text: `Body number ${i}`,
      });
    await waitFor('three messages served', async () => (await localView()).length === 3, 60_000);
    work = mkdtempSync(join(tmpdir(), 'lb-clients-'));
    // A HOME of their own: neither client reads the user's configuration.
    clientEnv = { PATH: process.env.PATH, HOME: work, TERM: 'xterm', LANG: 'C.UTF-8' };
  }, 180_000);

  afterAll(async () => {
    await serve?.stop();
    await provider?.cleanup();
    place?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A muttrc from the credentials, as the README's "Other clients" section writes it. */
  function muttrc(): string {
    const user = encodeURIComponent(alice.username);
    const file = join(work, 'muttrc');
    writeFileSync(
      file,
      [
        `set folder="imaps://${user}@${alice.imap.host}:${alice.imap.port}/"`,
        `set imap_pass="${alice.password}"`,
        'set spoolfile="+INBOX"',
        `set smtp_url="smtps://${user}@${alice.smtp.host}:${alice.smtp.port}/"`,
        `set smtp_pass="${alice.password}"`,
        `set ssl_ca_certificates_file="${alice.certificateFile}"`,
        `set from="${alice.email}"`,
        'set realname="Alice"',
        'set record=""', // the host keeps the sent copy itself
        `set tmpdir="${work}"`,
        'set pipe_split=yes pipe_decode=yes wait_key=no quit=yes mark_old=no',
      ].join('\n') + '\n',
    );
    return file;
  }

  it('mutt lists and reads the Inbox (batch: keys pushed, every message piped out)', async () => {
    const out = join(work, 'mutt-read.txt');
    const keys = `<tag-pattern>~A<enter><tag-prefix><pipe-message>cat >> ${out}<enter><quit>`;
    // mutt's index needs a terminal: script(1) gives it one.
    await run('script', ['-qec', `mutt -n -F ${muttrc()} -e 'push "${keys}"'`, '/dev/null'], {
      env: clientEnv,
      timeout: 60_000,
    });
    const read = readFileSync(out, 'utf8');
    expect(read.match(/^Subject: .*$/gm)).toEqual([
      'Subject: Hello 1',
      'Subject: Hello 2',
      'Subject: Hello 3',
    ]);
    for (const i of [1, 2, 3]) expect(read).toContain(`Body number ${i}`);
    expect(read).toContain('X-Leap-Encryption: stored');
  }, 120_000);

  it('mutt sends in batch mode; Bob gets it encrypted and signed', async () => {
    const mutt = execFile('mutt', ['-n', '-F', muttrc(), '-s', 'Sent with mutt', bob.address], {
      env: clientEnv,
      timeout: 60_000,
    });
    mutt.stdin!.end('Hello Bob, this is mutt.\n');
    const code = await new Promise((done) => mutt.on('exit', done));
    expect(code).toBe(0);
    const { source, opened } = await bobReceived('Sent with mutt');
    expect(source.toString('utf8')).toMatch(/^Content-Type: multipart\/encrypted;/im);
    expect(source.toString('utf8')).not.toContain('Hello Bob, this is mutt.');
    expect(opened.encryption).toBe('pgp-mime');
    expect(opened.verification.status).toBe('valid');
    expect(opened.message.toString('utf8')).toContain('Hello Bob, this is mutt.');
  }, 120_000);

  it('curl sends over SMTP; Bob gets it encrypted and signed', async () => {
    const message = join(work, 'curl-message.eml');
    writeFileSync(
      message,
      `From: ${alice.email}\r\nTo: ${bob.address}\r\nSubject: Sent with curl\r\n\r\nHello Bob, this is curl.\r\n`,
    );
    await run(
      'curl',
      [
        '--silent',
        '--show-error',
        '--url',
        `smtps://${alice.smtp.host}:${alice.smtp.port}`,
        '--cacert',
        alice.certificateFile,
        '--user',
        `${alice.username}:${alice.password}`,
        '--mail-from',
        alice.email,
        '--mail-rcpt',
        bob.address,
        '--upload-file',
        message,
      ],
      { env: clientEnv, timeout: 60_000 },
    );
    const { opened } = await bobReceived('Sent with curl');
    expect(opened.encryption).toBe('pgp-mime');
    expect(opened.verification.status).toBe('valid');
  }, 120_000);

  describe('mbsync', () => {
    const maildir = () => join(work, 'Mail');
    const files = (box: string) =>
      ['new', 'cur'].flatMap((sub) =>
        readdirSync(join(maildir(), box, sub)).map((name) => join(box, sub, name)),
      );
    const allFiles = () => readdirSync(maildir(), { recursive: true, encoding: 'utf8' }).sort();
    function mbsyncrc(): string {
      const file = join(work, 'mbsyncrc');
      writeFileSync(
        file,
        [
          'IMAPAccount leapbird',
          `Host ${alice.imap.host}`,
          `Port ${alice.imap.port}`,
          `User ${alice.username}`,
          `Pass ${alice.password}`,
          'SSLType IMAPS', // isync 1.5 names it TLSType
          `CertificateFile ${alice.certificateFile}`,
          '',
          'IMAPStore leapbird-remote',
          'Account leapbird',
          '',
          'MaildirStore leapbird-local',
          `Path ${maildir()}/`,
          `Inbox ${maildir()}/INBOX`,
          'SubFolders Verbatim',
          '',
          'Channel leapbird',
          'Far :leapbird-remote:',
          'Near :leapbird-local:',
          'Patterns *',
          'Create Both',
          'SyncState *',
          'Sync All',
        ].join('\n') + '\n',
      );
      return file;
    }
    /** One run; its IMAP commands (mbsync -Dn writes each as ">>> tag COMMAND"). */
    async function mbsync(): Promise<string[]> {
      const { stdout } = await run('mbsync', ['-Dn', '-c', mbsyncrc(), '-a'], {
        env: clientEnv,
        timeout: 120_000,
      });
      return [...stdout.matchAll(/^>>> \d+ (.*)$/gm)].map((m) => m[1]!);
    }

    it('pulls every mailbox into a Maildir', async () => {
      mkdirSync(maildir()); // mbsync makes the mailboxes, not the folder they live in
      await mbsync();
      const inboxFiles = files('INBOX');
      expect(inboxFiles).toHaveLength(3);
      const subjects = inboxFiles
        .map((f) => /^Subject: (.*)$/m.exec(readFileSync(join(maildir(), f), 'utf8'))?.[1])
        .sort();
      expect(subjects).toEqual(['Hello 1', 'Hello 2', 'Hello 3']);
      expect(readdirSync(maildir())).toEqual(expect.arrayContaining(['INBOX', 'Sent', 'Trash']));
    }, 180_000);

    it('pushes flags changed in the Maildir back to the host', async () => {
      const hello2 = files('INBOX').find((f) =>
        readFileSync(join(maildir(), f), 'utf8').includes('Subject: Hello 2'),
      )!;
      // Maildir flags: the letters after ":2,"; F flagged, S seen, sorted.
      const name = hello2
        .split('/')
        .pop()!
        .replace(/:2,[A-Z]*$/, ':2,FS');
      renameSync(join(maildir(), hello2), join(maildir(), 'INBOX', 'cur', name));
      const commands = await mbsync();
      expect(commands.some((c) => /^UID STORE \d+ \+FLAGS/.test(c))).toBe(true);
      const view = await localView();
      expect(view.find((m) => m.subject === 'Hello 2')?.flags).toEqual(['\\Flagged', '\\Seen']);
      expect(view.find((m) => m.subject === 'Hello 1')?.flags).not.toContain('\\Flagged');
    }, 180_000);

    it('a second run with no changes transfers nothing', async () => {
      await mbsync(); // settles anything the last push changed at the host
      const before = allFiles();
      const commands = await mbsync();
      // Only looking: no message fetched, stored, appended or expunged, no mailbox made.
      const changing = commands.filter(
        (c) =>
          !/^(CAPABILITY|AUTHENTICATE .*|LOGIN .*|NAMESPACE|LIST .*|SELECT .*|EXAMINE .*|UID FETCH [\d:*,]+ \(UID FLAGS\)|CLOSE|LOGOUT)$/.test(
            c,
          ),
      );
      expect(changing).toEqual([]);
      expect(allFiles()).toEqual(before);
    }, 180_000);
  });
});
