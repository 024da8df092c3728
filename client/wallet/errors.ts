/** Wallet errors. Messages name the file but never contain key material or the password. */

export class WalletError extends Error {
  override readonly name: string = 'WalletError';
}

/** The password does not open the wallet (or the file was altered and its checksum recomputed). */
export class WrongPasswordError extends WalletError {
  override readonly name = 'WrongPasswordError';
  constructor(readonly path: string) {
    super(`wrong password for wallet ${path} (or the file was altered)`);
  }
}

/** create/import refuses to replace an existing wallet file. */
export class WalletExistsError extends WalletError {
  override readonly name = 'WalletExistsError';
  constructor(readonly path: string) {
    super(`wallet ${path} already exists; refusing to overwrite it (move it away first)`);
  }
}

export class WalletNotFoundError extends WalletError {
  override readonly name = 'WalletNotFoundError';
  constructor(readonly path: string) {
    super(`no wallet at ${path} (create one with \`topvpn wallet create\`)`);
  }
}

/** The file is not a well-formed topvpn wallet (bad JSON, missing/extra fields, bad sizes, checksum mismatch). */
export class CorruptWalletError extends WalletError {
  override readonly name = 'CorruptWalletError';
  constructor(readonly path: string, readonly reason: string) {
    super(`wallet ${path} is corrupt: ${reason}`);
  }
}

/** Bad caller input: empty password, malformed secret key, out-of-range KDF parameters. */
export class WalletInputError extends WalletError {
  override readonly name = 'WalletInputError';
}
