/**
 * `wamedia <command>`: the command-line tool. Each command is a module under commands/ that
 * exports its `usage` text and `run`; it is loaded only when it runs.
 *
 * Exit status: 0 success, 1 failure (integrity, I/O, ...), 2 wrong usage. Failures print one
 * line on stderr, never a stack trace.
 */
import { UsageError } from './flags.js';

interface CommandModule {
  /** What `wamedia <command> --help` prints. */
  usage: string;
  /**
   * Runs the command with the arguments that follow its name.
   * @throws UsageError on wrong usage; anything else is a failure.
   */
  run(args: string[]): Promise<void>;
}

interface CommandEntry {
  /** One line for the list of commands. */
  summary: string;
  load(): Promise<CommandModule>;
}

// Adding a command: one line here and its module under commands/.
const commands: Record<string, CommandEntry> = {
  decrypt: { summary: 'decrypt and verify a WhatsApp .enc file', load: () => import('./commands/decrypt.js') },
  encrypt: { summary: 'encrypt a file into a WhatsApp .enc', load: () => import('./commands/encrypt.js') },
  token: { summary: 'print a bearer token for an instance (JWT_SECRET)', load: () => import('./commands/token.js') },
  revoke: { summary: 'revoke every token of an instance made so far (Redis)', load: () => import('./commands/revoke.js') },
  'webhook-secret': { summary: "print the secret an instance's webhooks are signed with (WEBHOOK_SECRET)", load: () => import('./commands/webhook-secret.js') },
  download: { summary: 'download one media through the API: the file, a link to it, or base64', load: () => import('./commands/download.js') },
  batch: { summary: 'download many media through the API into a folder, resumable', load: () => import('./commands/batch.js') },
};

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h';

function overview(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const list = Object.entries(commands).map(([name, { summary }]) => `  ${name.padEnd(width)}  ${summary}`);
  return `Usage: wamedia <command> [options]\n\nCommands:\n${list.join('\n')}\n\nRun 'wamedia <command> --help' for a command's options.\n`;
}

/** Runs one command line; resolves to the exit status. */
async function main([name, ...args]: string[]): Promise<number> {
  if (name === undefined || isHelp(name)) {
    (name ? process.stdout : process.stderr).write(overview());
    return name ? 0 : 2;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    printError(`wamedia: unknown command '${name}' (commands: ${Object.keys(commands).join(', ')})`);
    return 2;
  }
  const command = await entry.load();
  if (args.some(isHelp)) {
    process.stdout.write(command.usage);
    return 0;
  }
  try {
    await command.run(args);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      printError(`wamedia ${name}: ${error.message} (see 'wamedia ${name} --help')`);
      return 2;
    }
    printError(`wamedia ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

function printError(line: string): void {
  process.stderr.write(`${line.replace(/\s*\n\s*/g, ' ')}\n`);
}

process.exitCode = await main(process.argv.slice(2));
