/**
 * What to tell a person whose LeapBird program (the native host) is missing or speaks
 * another protocol version: which file to download for their system and how to install
 * it, in words. The command a developer runs in a source checkout comes last, as the
 * developer's path. Pure: the background supplies the platform and the versions.
 */
import { RPC_PROTOCOL_VERSION, VERSION } from '../../shared/src/constants.js';
import { HOST_INSTALL_COMMAND } from './words.js';

/** What `runtime.getPlatformInfo()` says, reduced to what the guide needs. */
export interface PlatformInfo {
  os: string;
  arch: string;
}

/** Why there is no usable program: none installed, or one of another protocol version. */
export type HostProblem =
  | { kind: 'missing' }
  /** hostProtocol: the version the program speaks, when it said; null when it did not. */
  | { kind: 'mismatch'; hostProtocol: number | null; hostVersion: string | null };

export interface InstallChoice {
  /** Who this is for: "Debian, Ubuntu, Linux Mint and other Debian-based systems". */
  forWhom: string;
  /** The file to download. */
  file: string;
  /** What to do with it, one step per sentence. */
  steps: string[];
}

export interface InstallGuide {
  headline: string;
  /** One or two sentences: what is wrong, and what is kept. */
  explanation: string;
  /** Files to choose from for this system; empty when there is none yet. */
  choices: InstallChoice[];
  /** What to do after installing. */
  after: string;
  /** Where the files are and how to check them. */
  where: string;
  /** The developer's path: the command in a source checkout. */
  developer: string;
}

const ARCH_NAMES: Record<string, string> = {
  'x86-64': '64-bit PC',
  'x86-32': '32-bit PC',
  aarch64: '64-bit ARM',
  arm: 'ARM',
};

const OS_NAMES: Record<string, string> = {
  linux: 'Linux',
  mac: 'macOS',
  win: 'Windows',
  openbsd: 'OpenBSD',
  android: 'Android',
  cros: 'ChromeOS',
};

/**
 * The files `npm run package` makes, for the platforms it makes them for. When Thunderbird
 * did not say which system this is, the Linux packages (the only ones there are) are shown.
 */
function choicesFor(platform: PlatformInfo | null, version: string): InstallChoice[] {
  if (platform && (platform.os !== 'linux' || platform.arch !== 'x86-64')) return [];
  return [
    {
      forWhom: 'Debian, Ubuntu, Linux Mint and other Debian-based systems',
      file: `leapbird-host_${version}_amd64.deb`,
      steps: [
        'Open the downloaded file: your software installer offers to install it (it asks for your password).',
        `Or, in a terminal, in the folder with the file: sudo apt install ./leapbird-host_${version}_amd64.deb`,
      ],
    },
    {
      forWhom: 'any other Linux (no administrator rights needed)',
      file: `leapbird-host-${version}-linux-x64.tar.gz`,
      steps: [
        'Unpack the downloaded file (double-click it, or: tar -xzf <file>).',
        'In the unpacked folder, run install.sh: in a terminal there, type sh install.sh and press Enter.',
        'It installs the program for you alone, in your home folder; uninstall.sh removes it again.',
      ],
    },
  ];
}

/** The protocol version a host named in its refusal ("… this host speaks 2 …"), if it did. */
export function protocolFromRefusal(message: string): number | null {
  const m = /this host speaks (\d+)/.exec(message);
  return m ? Number(m[1]) : null;
}

export function installGuide(
  problem: HostProblem,
  platform: PlatformInfo | null,
  version: string = VERSION,
  ourProtocol: number = RPC_PROTOCOL_VERSION,
): InstallGuide {
  const system = platform
    ? `${OS_NAMES[platform.os] ?? platform.os} (${ARCH_NAMES[platform.arch] ?? platform.arch})`
    : 'your system';
  const choices = choicesFor(platform, version);
  const where =
    'Download it from the same place as this add-on: the LeapBird release page lists each file with SHA256SUMS and its signature, so you can check that the download is genuine (gpg --verify SHA256SUMS.asc SHA256SUMS, then sha256sum -c SHA256SUMS).';
  const developer = `Developers running LeapBird from its source folder: npm ci, then ${HOST_INSTALL_COMMAND}.`;
  const none = `There is no ready-made LeapBird program for ${system} yet; for now it can only be built from the source.`;

  if (problem.kind === 'missing') {
    return {
      headline: 'Install the LeapBird program',
      explanation: `The add-on needs the LeapBird program on this computer: it encrypts and stores your mail here. It is not installed yet. ${
        choices.length ? `For ${system}, download one of these:` : none
      }`,
      choices,
      after:
        'Then restart Thunderbird (or wait a minute: LeapBird looks for the program again by itself).',
      where,
      developer,
    };
  }
  const hostNewer = problem.hostProtocol !== null && problem.hostProtocol > ourProtocol;
  const installed = problem.hostVersion ? ` (version ${problem.hostVersion})` : '';
  if (hostNewer) {
    return {
      headline: 'Update the LeapBird add-on',
      explanation: `The LeapBird program on this computer${installed} is newer than this add-on (version ${version}). Update the add-on: in Thunderbird, Add-ons and Themes, then the gear menu, Check for Updates, or install the new .xpi file from the release page. Your mail and accounts are kept.`,
      choices: [],
      after: 'Then restart Thunderbird.',
      where,
      developer:
        'Developers running LeapBird from its source folder: npm run build, then reinstall dist/leapbird-<version>.xpi.',
    };
  }
  return {
    headline: 'Update the LeapBird program',
    explanation: `The LeapBird program on this computer${installed} is too old for this add-on (version ${version}). Install version ${version} of the program over the old one, the same way as before; your mail, keys and accounts are kept. ${
      choices.length ? `For ${system}:` : none
    }`,
    choices,
    after: 'Then restart Thunderbird.',
    where,
    developer,
  };
}

/** The problem the add-on's state shows, if the program is missing or of another version. */
export function hostProblemOf(state: {
  phase: string;
  hostProtocol: number | null;
  hostVersion: string | null;
}): HostProblem | null {
  if (state.phase === 'host_missing') return { kind: 'missing' };
  if (state.phase === 'host_outdated')
    return { kind: 'mismatch', hostProtocol: state.hostProtocol, hostVersion: state.hostVersion };
  return null;
}
