/**
 * Network namespaces for partition tests: each namespace gets its own veth links to this host,
 * one per service it must reach (e.g. "redis" and "cdn"), on a private test subnet
 * (10.213.<n>.0/24, a /30 per link: the host's end is .1 of the /30, the namespace's .2). A
 * process started in a namespace (see {@link Netns.launcher}) reaches only what its links lead
 * to: the host's addresses on them. Cutting one link (`ip link set <host end> down`) silences
 * that path alone: packets vanish, as in a real partition, and nothing answers an error.
 * Healing brings it back up as it was.
 *
 * Needs root and iproute2's `ip` (see {@link NetnsLab.unavailable}). Traffic stays on the links
 * made here: nothing is routed anywhere else. {@link NetnsLab.remove} deletes every namespace and
 * link; so does this process's exit, should a test die before its afterAll.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every lab still up: removed (synchronously) if this process exits first. */
const labs = new Set<NetnsLab>();
process.once('exit', () => {
  for (const lab of labs) lab.removeNow();
});

/** One veth pair between the host and a namespace. */
export interface NetnsLink {
  /** Its name in the lab, e.g. "redis". */
  readonly name: string;
  /** The host's end: what {@link cut} takes down. */
  readonly hostDevice: string;
  /** The namespace's end. */
  readonly nsDevice: string;
  /** The host's address on the link: what the namespace connects to. */
  readonly hostAddress: string;
  /** The namespace's address on the link: where its traffic comes from, and where the host reaches it. */
  readonly nsAddress: string;
  /** Takes the link down: from now on, nothing crosses it in either direction. */
  cut(): Promise<void>;
  /** Brings the link back up. */
  heal(): Promise<void>;
}

/** One network namespace of a lab, with its links. */
export interface Netns {
  readonly name: string;
  readonly links: ReadonlyMap<string, NetnsLink>;
  /** The command prefix that runs a process in this namespace (it execs the process in its place). */
  readonly launcher: readonly string[];
  /** The link named `name`; throws when there is none. */
  link(name: string): NetnsLink;
  /**
   * Makes the host's `address` (one it listens on, e.g. the host's end of another namespace's
   * link) reachable from this namespace through its link `linkName`.
   */
  route(address: string, linkName: string): Promise<void>;
}

export class NetnsLab {
  private readonly namespaces: Netns[] = [];
  private readonly hostDevices: string[] = [];
  private linkCount = 0;

  private constructor(
    /** Names every namespace and device of the lab: several labs (runs) may exist at once. */
    private readonly id: string,
    /** The lab's subnet: `10.213.<octet>.0/24`. */
    private readonly octet: number,
  ) {}

  /**
   * Why namespaces cannot be made here (not Linux, not root, no `ip`, or `ip netns add` refused),
   * or undefined when they can: tests skip with this reason.
   */
  static async unavailable(): Promise<string | undefined> {
    if (process.platform !== 'linux') return `network namespaces are Linux's (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return 'making network namespaces needs root (CI runs as root)';
    const probe = `wamedia-probe-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      await ip('netns', 'add', probe);
    } catch (error) {
      return `\`ip netns add\` failed: ${String(error).split('\n')[0]}`;
    }
    await ip('netns', 'delete', probe).catch(() => undefined);
    return undefined;
  }

  /** A new, empty lab on a /24 of 10.213.0.0/16 that no address of this host is in. */
  static async create(): Promise<NetnsLab> {
    const { stdout } = await ip('-4', '-o', 'addr', 'show');
    const used = new Set([...stdout.matchAll(/inet 10\.213\.(\d+)\./g)].map((match) => Number(match[1])));
    const free = Array.from({ length: 256 }, (_, octet) => octet).filter((octet) => !used.has(octet));
    if (free.length === 0) throw new Error('no free /24 left in 10.213.0.0/16 for a test lab');
    const lab = new NetnsLab(randomBytes(2).toString('hex'), free[randomInt(free.length)]!);
    labs.add(lab);
    return lab;
  }

  /** Adds a namespace (loopback up) with one link per name, each up and addressed. */
  async addNamespace(linkNames: readonly string[]): Promise<Netns> {
    const index = this.namespaces.length;
    const name = `wamedia-${this.id}-${index}`;
    await ip('netns', 'add', name);
    const links = new Map<string, NetnsLink>();
    const namespace: Netns = {
      name,
      links,
      launcher: ['ip', 'netns', 'exec', name],
      link: (linkName) => {
        const link = links.get(linkName);
        if (!link) throw new Error(`namespace ${name} has no link "${linkName}"`);
        return link;
      },
      route: async (address, linkName) => {
        const link = namespace.link(linkName);
        await ip('-n', name, 'route', 'replace', `${address}/32`, 'via', link.hostAddress, 'dev', link.nsDevice);
      },
    };
    this.namespaces.push(namespace);
    await ip('-n', name, 'link', 'set', 'lo', 'up');
    for (const [i, linkName] of linkNames.entries()) links.set(linkName, await this.addLink(name, index, i, linkName));
    return namespace;
  }

  /** Deletes every namespace and link of the lab. Safe to call twice. */
  async remove(): Promise<void> {
    labs.delete(this);
    // Deleting either end of a veth pair deletes both; a namespace's deletion takes its ends with it.
    for (const device of this.hostDevices.splice(0)) await ip('link', 'delete', device).catch(() => undefined);
    for (const { name } of this.namespaces.splice(0)) await ip('netns', 'delete', name).catch(() => undefined);
  }

  /** {@link remove}, synchronously: for the exit hook. */
  removeNow(): void {
    labs.delete(this);
    for (const device of this.hostDevices.splice(0)) spawnSync('ip', ['link', 'delete', device], { stdio: 'ignore' });
    for (const { name } of this.namespaces.splice(0)) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  }

  private async addLink(namespace: string, nsIndex: number, linkIndex: number, name: string): Promise<NetnsLink> {
    // A /30 per link: 64 links per lab.
    const base = 4 * this.linkCount++;
    if (base > 252) throw new Error('a test lab has room for 64 links');
    const hostAddress = `10.213.${this.octet}.${base + 1}`;
    const nsAddress = `10.213.${this.octet}.${base + 2}`;
    // Device names are at most 15 characters.
    const hostDevice = `wm${this.id}${nsIndex}${linkIndex}h`;
    const nsDevice = `wm${this.id}${nsIndex}${linkIndex}n`;
    await ip('link', 'add', hostDevice, 'type', 'veth', 'peer', 'name', nsDevice);
    this.hostDevices.push(hostDevice);
    await ip('link', 'set', nsDevice, 'netns', namespace);
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostDevice);
    await ip('link', 'set', hostDevice, 'up');
    await ip('-n', namespace, 'addr', 'add', `${nsAddress}/30`, 'dev', nsDevice);
    await ip('-n', namespace, 'link', 'set', nsDevice, 'up');
    return {
      name,
      hostDevice,
      nsDevice,
      hostAddress,
      nsAddress,
      cut: async () => {
        await ip('link', 'set', hostDevice, 'down');
      },
      heal: async () => {
        await ip('link', 'set', hostDevice, 'up');
      },
    };
  }
}

/** Runs `ip` with `args`; rejects with its stderr when it fails. */
async function ip(...args: string[]): Promise<{ stdout: string }> {
  try {
    const { stdout } = await run('ip', args);
    return { stdout };
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${stderr?.trim() || String(error)}`);
  }
}
