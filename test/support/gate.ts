/**
 * A gate a test opens when something has happened (S3 stopped, a client answered): fake servers
 * wait on it instead of on a delay, so the order of events holds however loaded the machine is.
 */
export interface Gate {
  /** Settles once open() is called. */
  readonly opened: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}
