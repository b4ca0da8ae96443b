/** One thing `kiln doctor` checked about the host. */
export interface HostFinding {
  name: string;
  ok: boolean;
  detail: string;
  /** Set when Kiln can repair the problem itself (`kiln doctor --fix`). */
  fix?: () => Promise<string>;
  /** A problem that limits a feature but does not stop containers from running. */
  warnOnly?: boolean;
}
