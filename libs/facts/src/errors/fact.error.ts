/**
 * A fact declaration or configuration that cannot work (duplicate name, bad type, alias to an
 * unknown fact, bad YAML). Thrown at boot so the process refuses to start, with the class and
 * method, or the file and path, named in the message.
 */
export class FactDeclarationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid fact declarations:\n  - ${problems.join('\n  - ')}`);
    this.name = 'FactDeclarationError';
  }
}

/** A computed fact that failed or ran past its time limit; its leaves read as false. */
export class FactFailedError extends Error {
  constructor(
    readonly fact: string,
    readonly reason: 'error' | 'timeout' | 'unknown',
    message: string,
  ) {
    super(message);
    this.name = 'FactFailedError';
  }
}
