/* global IOUtils -- a Gecko global in the parent process, like Services and ChromeUtils */
/* Experiment (privileged, parent process): create, find and remove the Thunderbird account
 * that talks to the LeapBird native host on 127.0.0.1. Modelled on Thunderbird's own
 * CreateInBackend.sys.mjs (128+: MailServices.outgoingServer, addLoginAsync, folder URIs).
 * Kept minimal: everything that is not Thunderbird plumbing lives in the background page.
 *
 * Experiment scripts share one global with Thunderbird's own API scripts, so this file
 * declares a single top-level name (the API class) and keeps everything else inside it. */

var leapbirdAccounts = (() => {
  'use strict';

  const { MailServices } = ChromeUtils.importESModule('resource:///modules/MailServices.sys.mjs');
  const { ExtensionError } = ChromeUtils.importESModule(
    'resource://gre/modules/ExtensionUtils.sys.mjs',
  );
  const { setTimeout } = ChromeUtils.importESModule('resource://gre/modules/Timer.sys.mjs');

  /** Errors thrown in the parent reach the add-on only as ExtensionError; anything else
   * becomes "An unexpected error occurred". Keep the message, and dump the stack for logs. */
  function withClearErrors(fn) {
    return async (...args) => {
      try {
        return await fn(...args);
      } catch (error) {
        dump(`LeapBird experiment error: ${error}\n${error && error.stack}\n`);
        throw new ExtensionError(String((error && error.message) || error));
      }
    };
  }

  const LOOPBACK = '127.0.0.1';

  function incomingAccountFor(email) {
    const wanted = String(email).toLowerCase();
    for (const account of MailServices.accounts.accounts) {
      const server = account.incomingServer;
      // `hostName` became `hostname` after 128.
      const host = server && (server.hostname ?? server.hostName);
      if (!server || server.type !== 'imap' || host !== LOOPBACK) continue;
      for (const identity of account.identities) {
        if ((identity.email || '').toLowerCase() === wanted) return account;
      }
    }
    return null;
  }

  function loginOrigin(scheme) {
    return `${scheme}://${LOOPBACK}`;
  }

  // 153 has only the async form; 128 has only the sync one.
  async function removeLogin(login) {
    if (typeof Services.logins.removeLoginAsync === 'function')
      await Services.logins.removeLoginAsync(login);
    else Services.logins.removeLogin(login);
  }

  async function rememberPassword(scheme, username, password) {
    const origin = loginOrigin(scheme);
    const existing = await Services.logins.searchLoginsAsync({ origin, httpRealm: origin });
    for (const old of existing) {
      if (old.username === username) await removeLogin(old);
    }
    const login = Cc['@mozilla.org/login-manager/loginInfo;1'].createInstance(Ci.nsILoginInfo);
    login.init(origin, null, origin, username, password, '', '');
    await Services.logins.addLoginAsync(login);
  }

  async function forgetPassword(scheme, username) {
    const origin = loginOrigin(scheme);
    const existing = await Services.logins.searchLoginsAsync({ origin, httpRealm: origin });
    for (const old of existing) {
      if (old.username === username) await removeLogin(old);
    }
  }

  /**
   * Trusts the host's own certificate for exactly 127.0.0.1:port, as "add a security
   * exception" would, and nothing else: the certificate is not a CA and is trusted nowhere
   * else. Whoever binds the port while the host is down has no key for it, so Thunderbird
   * stops at the handshake and sends no password. A permanent override replaces an older one.
   */
  function pinCertificate(port, certificate) {
    const cert = Cc['@mozilla.org/security/x509certdb;1']
      .getService(Ci.nsIX509CertDB)
      .constructX509FromBase64(certificate);
    Cc['@mozilla.org/security/certoverride;1']
      .getService(Ci.nsICertOverrideService)
      .rememberValidityOverride(LOOPBACK, port, {}, cert, false);
  }

  function validCertificate(certificate) {
    return typeof certificate === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(certificate);
  }

  function outgoingServerFor(account) {
    const key = account.defaultIdentity && account.defaultIdentity.smtpServerKey;
    if (!key) return null;
    for (const server of MailServices.outgoingServer.servers) {
      if (server.key === key) return server;
    }
    return null;
  }

  function validateSpec(spec) {
    const problems = [];
    if (!spec || typeof spec !== 'object') throw new Error('The account description is missing.');
    if (typeof spec.email !== 'string' || !spec.email.includes('@'))
      problems.push('an email address');
    if (typeof spec.username !== 'string' || !spec.username) problems.push('a user name');
    if (typeof spec.password !== 'string' || !spec.password) problems.push('a password');
    if (!validCertificate(spec.certificate)) problems.push("the host's certificate");
    for (const part of ['imap', 'smtp']) {
      const s = spec[part];
      if (!s || s.host !== LOOPBACK || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535) {
        problems.push(`${part.toUpperCase()} on ${LOOPBACK} with a valid port`);
      }
    }
    if (problems.length) throw new Error(`The account description needs ${problems.join(', ')}.`);
  }

  function configureOutgoing(out, spec) {
    const smtp = out.QueryInterface(Ci.nsISmtpServer);
    smtp.hostname = LOOPBACK;
    smtp.port = spec.smtp.port;
    // Implicit TLS with the pinned certificate; the password goes only inside it.
    out.socketType = Ci.nsMsgSocketType.SSL;
    out.authMethod = Ci.nsMsgAuthMethod.passwordCleartext;
    out.username = spec.username;
    out.description = `LeapBird (${spec.email})`;
  }

  /**
   * The host's store is the local copy of the mail, encrypted; Thunderbird keeps none of its
   * own. No offline copies (and no automatic offline sync) for this server, every folder out
   * of the offline set and out of the global search index, plaintext copies that an older
   * version let Thunderbird keep removed, and IMAP message bodies cached in memory only.
   * Applied at every start (ensure and pin run then) and to folders created later.
   */
  function keepNoPlaintext(server) {
    const imap = server.QueryInterface(Ci.nsIImapIncomingServer);
    imap.offlineDownload = false;
    server.setBoolValue('offline_download', false);
    server.setBoolValue('autosync_offline_stores', false);
    // Global: Thunderbird has no per-account switch for its network cache of IMAP bodies.
    Services.prefs.setBoolPref('mail.imap.use_disk_cache2', false);
    ours.add(server.key);
    watchNewFolders();
    for (const folder of server.rootFolder.descendants) keepFolderPlain(folder);
    forgetCachedBodies();
  }

  const ours = new Set();
  let watching = false;

  function keepFolderPlain(folder) {
    folder.clearFlag(Ci.nsMsgFolderFlags.Offline);
    try {
      // -1 is Gloda's "never index"; set through Gloda so an existing index drops the folder.
      glodaIndexer().setFolderIndexingPriority(folder, -1);
    } catch (e) {
      dump(`LeapBird: could not keep ${folder.URI} out of the search index: ${e}\n`);
      folder.setStringProperty('indexingPriority', '-1');
    }
    dropOfflineCopies(folder);
  }

  let gloda = null;
  function glodaIndexer() {
    gloda ??= ChromeUtils.importESModule(
      'resource:///modules/gloda/IndexMsg.sys.mjs',
    ).GlodaMsgIndexer;
    return gloda;
  }

  /** Marks no message as kept offline, then empties the offline store file. */
  function dropOfflineCopies(folder) {
    let file;
    try {
      file = folder.filePath;
    } catch {
      return;
    }
    if (!file || !file.exists() || file.isDirectory() || file.fileSize === 0) return;
    const db = folder.msgDatabase;
    for (const hdr of db.enumerateMessages()) {
      if (hdr.flags & Ci.nsMsgMessageFlags.Offline) hdr.andFlags(~Ci.nsMsgMessageFlags.Offline);
      if (hdr.getStringProperty('preview')) hdr.setStringProperty('preview', '');
    }
    db.commit(Ci.nsMsgDBCommitType.kCompressCommit);
    // Overwritten with nothing: no header points into it any more.
    void IOUtils.write(file.path, new Uint8Array(0)).catch((e) =>
      dump(`LeapBird: could not empty ${file.path}: ${e}\n`),
    );
  }

  /** New folders of our servers join no offline set and no index; new messages get no preview. */
  function watchNewFolders() {
    if (watching) return;
    watching = true;
    const mfn = MailServices.mfn;
    mfn.addListener(
      {
        folderAdded(folder) {
          if (ours.has(folder.server.key)) keepFolderPlain(folder);
        },
        msgAdded(hdr) {
          // The new-mail alert fetches the start of the body for a preview and stores it in
          // the summary; a preview that is already there (one space) is never fetched.
          if (ours.has(hdr.folder.server.key)) hdr.setStringProperty('preview', ' ');
        },
      },
      mfn.folderAdded | mfn.msgAdded,
    );
  }

  /** IMAP bodies an older version let Thunderbird cache on disk, for 127.0.0.1 only. */
  function forgetCachedBodies() {
    try {
      const { LoadContextInfo } = ChromeUtils.importESModule(
        'resource://gre/modules/LoadContextInfo.sys.mjs',
      );
      const storage = Services.cache2.diskCacheStorage(LoadContextInfo.default);
      const doomed = [];
      storage.asyncVisitStorage(
        {
          onCacheStorageInfo() {},
          onCacheEntryInfo(uri, idEnhance) {
            if (uri.asciiSpec.startsWith(`imap://`) && uri.asciiHost === LOOPBACK)
              doomed.push([uri, idEnhance]);
          },
          onCacheEntryVisitCompleted() {
            for (const [uri, id] of doomed) storage.asyncDoomURI(uri, id, null);
          },
        },
        true,
      );
    } catch (e) {
      dump(`LeapBird: could not clear cached IMAP bodies: ${e}\n`);
    }
  }

  async function ensure(spec) {
    validateSpec(spec);
    // Before any server points at the ports, so no connection goes out without the pin.
    pinCertificate(spec.imap.port, spec.certificate);
    pinCertificate(spec.smtp.port, spec.certificate);
    const existing = incomingAccountFor(spec.email);
    if (existing) {
      // Same address again: keep the one account, bring its ports and password up to date.
      const server = existing.incomingServer;
      server.port = spec.imap.port;
      server.socketType = Ci.nsMsgSocketType.SSL;
      server.password = spec.password;
      const out = outgoingServerFor(existing);
      if (out) configureOutgoing(out, spec);
      await rememberPassword('imap', spec.username, spec.password);
      await rememberPassword('smtp', spec.username, spec.password);
      keepNoPlaintext(server);
      MailServices.accounts.saveAccountInfo();
      return { accountId: existing.key, created: false };
    }

    const server = MailServices.accounts.createIncomingServer(spec.username, LOOPBACK, 'imap');
    server.port = spec.imap.port;
    server.socketType = Ci.nsMsgSocketType.SSL;
    server.authMethod = Ci.nsMsgAuthMethod.passwordCleartext;
    server.password = spec.password;
    server.prettyName = spec.email;
    server.doBiff = true;
    server.valid = true;
    // Before the first login, so no folder is ever marked for offline use or indexed.
    keepNoPlaintext(server);
    await rememberPassword('imap', spec.username, spec.password);

    const out = MailServices.outgoingServer.createServer('smtp');
    configureOutgoing(out, spec);
    out.password = spec.password;
    await rememberPassword('smtp', spec.username, spec.password);

    const identity = MailServices.accounts.createIdentity();
    identity.fullName = spec.fullName || '';
    identity.email = spec.email;
    identity.smtpServerKey = out.key;
    identity.valid = true;

    const account = MailServices.accounts.createAccount();
    account.addIdentity(identity);
    account.incomingServer = server;

    // Without these, sending never completes: Thunderbird has nowhere to file the copy.
    const base = server.serverURI + '/';
    identity.fccFolderURI = base + 'Sent';
    identity.draftsFolderURI = base + 'Drafts';
    identity.templatesFolderURI = base + 'Templates';
    identity.fccFolderPickerMode = 0;
    identity.draftsFolderPickerMode = 0;
    identity.templatesFolderPickerMode = 0;
    // The host files the sent copy itself (encrypted upstream, once), so Thunderbird must
    // not append its own plaintext copy to Sent as well.
    identity.doFcc = false;

    if (!MailServices.accounts.defaultAccount) MailServices.accounts.defaultAccount = account;
    try {
      // Reading it throws when Local Folders do not exist yet (fresh profiles).
      void MailServices.accounts.localFoldersServer;
    } catch {
      MailServices.accounts.createLocalMailAccount();
    }
    MailServices.accounts.saveAccountInfo();
    Services.prefs.savePrefFile(null);
    logInSoon(server);
    return { accountId: account.key, created: true };
  }

  /**
   * Logs in now rather than at the next check for mail, so the folders are there when the
   * user looks. The host's servers may still be starting: a failed first login is retried a
   * few times, a little later each time. Not awaited: the account exists either way.
   */
  function logInSoon(server, attempt = 0) {
    const listener = {
      OnStartRunningUrl() {},
      OnStopRunningUrl(_url, status) {
        if (status === 0) {
          server.performExpand(null);
          return;
        }
        dump(
          `LeapBird: IMAP login attempt ${attempt + 1} failed (0x${(status >>> 0).toString(16)})\n`,
        );
        if (attempt < 4) setTimeout(() => logInSoon(server, attempt + 1), 1000 * 2 ** attempt);
      },
    };
    try {
      server.verifyLogon(listener, null);
    } catch (e) {
      dump(`LeapBird: IMAP login could not start: ${e}\n`);
    }
  }

  /** An account made before the host's servers used TLS moves to it; a renewed pin replaces the old. */
  async function pin(spec) {
    if (!spec || typeof spec.email !== 'string' || !validCertificate(spec.certificate))
      throw new Error('The pin needs an email address and the host certificate.');
    const account = incomingAccountFor(spec.email);
    if (!account) return false;
    const server = account.incomingServer;
    const out = outgoingServerFor(account);
    const ports = [spec.imapPort, spec.smtpPort];
    if (!ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536))
      throw new Error('The pin needs the two loopback ports.');
    // Only the ports this account already uses: a pin never points Thunderbird elsewhere.
    const smtp = out && out.QueryInterface(Ci.nsISmtpServer);
    if (server.port !== spec.imapPort || (smtp && smtp.port !== spec.smtpPort))
      throw new Error(`The account for ${spec.email} uses other ports than the host's.`);
    for (const p of ports) pinCertificate(p, spec.certificate);
    server.socketType = Ci.nsMsgSocketType.SSL;
    if (out) out.socketType = Ci.nsMsgSocketType.SSL;
    keepNoPlaintext(server);
    MailServices.accounts.saveAccountInfo();
    return true;
  }

  async function remove(email) {
    const account = incomingAccountFor(email);
    if (!account) return false;
    const username = account.incomingServer.username;
    const out = outgoingServerFor(account);
    MailServices.accounts.removeAccount(account, true);
    if (out) MailServices.outgoingServer.deleteServer(out);
    await forgetPassword('imap', username);
    await forgetPassword('smtp', username);
    MailServices.accounts.saveAccountInfo();
    return true;
  }

  return class extends ExtensionCommon.ExtensionAPI {
    getAPI(_context) {
      return {
        leapbirdAccounts: {
          ensure: withClearErrors(ensure),
          find: withClearErrors(async (email) => {
            const account = incomingAccountFor(email);
            return account ? account.key : null;
          }),
          pin: withClearErrors(pin),
          remove: withClearErrors(remove),
          quit: withClearErrors(async () => {
            Services.startup.quit(Ci.nsIAppStartup.eAttemptQuit);
          }),
        },
      };
    }
  };
})();
