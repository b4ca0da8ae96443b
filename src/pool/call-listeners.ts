/**
 * The gateway's end of calls between functions (docs/SECURITY.md, "Calls between
 * functions"), declared where the launcher uses it: the gateway implements it
 * (src/gateway/call-listeners.ts), the launcher asks for one listener per instance of a
 * function with `calls`, so the gateway knows who calls from which socket a request came in
 * on, never from anything the function sends.
 */
export interface CallListeners {
  /**
   * Listen on the unix socket `socketPath` (a fresh path in the instance's host dir) for the
   * calls of one instance, connectable by `uid` (the instance's) alone. Resolves once it listens.
   */
  listen(socketPath: string, caller: Caller, uid: number): Promise<CallListener>;
}

/** Who calls: one instance of one version, and the functions that version may call. */
export interface Caller {
  instance: string;
  function: string;
  version: number;
  calls: readonly string[];
}

export interface CallListener {
  /** Stop listening and cut the caller's open connections (the instance is gone). */
  close(): void;
}
