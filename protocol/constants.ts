/**
 * Spec constants of the topvpn data-plane wire protocol (see protocol/README.md).
 * Changing any value here changes the wire format or the protocol's timing contract.
 */

/** First byte of every packet on a link. */
export const MsgType = {
  HANDSHAKE_INIT: 1,
  HANDSHAKE_RESP: 2,
  DATA: 4,
  DESTROY: 5,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** First byte of a DATA layer's plaintext. */
export const Kind = {
  FORWARD: 1,
  IP: 2,
  CONTROL: 3,
  PADDING: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** First byte of a CONTROL body. */
export const Ctrl = {
  EXTEND: 1,
  EXTENDED: 2,
  EXIT_OPEN: 3,
  EXIT_OPENED: 4,
  EXIT_REFUSED: 5,
  REKEY: 6,
  REKEYED: 7,
  TRUNCATE: 8,
  EXTEND_FAILED: 9,
  /** Resumption (protocol/resume.ts): EXIT_OPEN presenting a token from an earlier circuit. */
  EXIT_RESUME: 10,
  /** Resumption: the exit's token for this circuit's address, sent after EXIT_OPENED. */
  RESUME_TOKEN: 11,
} as const;
export type Ctrl = (typeof Ctrl)[keyof typeof Ctrl];

/**
 * Control types 1..16 belong to the data plane (this file); APP_CONTROL_MIN..255 are
 * application controls (payments: protocol/payment.ts) that engines pass through raw.
 */
export const APP_CONTROL_MIN = 17;

/** Reason codes carried by EXIT_REFUSED and EXTEND_FAILED. */
export const RefuseReason = {
  NOT_AN_EXIT: 1,
  POOL_EXHAUSTED: 2,
  NO_ANSWER: 3,
  BAD_REQUEST: 4,
  CIRCUIT_LIMIT: 5,
} as const;
export type RefuseReason = (typeof RefuseReason)[keyof typeof RefuseReason];

export const KEY_LEN = 32;
export const TAG_LEN = 16;
export const NONCE_LEN = 12;
export const NODE_ID_HASH_LEN = 8;

export const HANDSHAKE_INIT_LEN = 48;
export const HANDSHAKE_RESP_LEN = 76;
export const DATA_HEADER_LEN = 16;
export const DESTROY_LEN = 8;
/** Bytes one DATA layer adds around its body: header + kind byte + tag. */
export const LAYER_OVERHEAD = DATA_HEADER_LEN + 1 + TAG_LEN;
/** Smallest valid DATA packet: header + kind + tag. */
export const DATA_MIN_LEN = LAYER_OVERHEAD;
/** EXTEND body: ipv4(4) port(2) HANDSHAKE_INIT(48). */
export const EXTEND_BODY_LEN = 6 + HANDSHAKE_INIT_LEN;
/** EXIT_OPENED body: ipv4(4) prefix(1) dns(4). */
export const EXIT_OPENED_BODY_LEN = 9;

/** HKDF salt / protocol id of the ntor-style handshake. */
export const PROTOID = 'topvpn-ntor-x25519-sha256-1';
export const INFO_AUTH = 'topvpn auth';
export const INFO_KEYS = 'topvpn keys';
export const AUTH_SUFFIX = 'server';

/** WireGuard timers and limits (wireguard-go device/constants.go). */
export const REKEY_AFTER_MESSAGES = 1n << 60n;
export const REJECT_AFTER_MESSAGES = (1n << 64n) - (1n << 13n) - 1n;
export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;

/** RFC 6479 replay window as wireguard-go replay/replay.go: 128 blocks of 64 bits. */
export const REPLAY_BLOCK_BITS = 64;
export const REPLAY_RING_BLOCKS = 128;
export const REPLAY_WINDOW = (REPLAY_RING_BLOCKS - 1) * REPLAY_BLOCK_BITS; // 8128
