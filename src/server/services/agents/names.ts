// Agent-name rules of mcp_agent_mail: memorable adjective+noun names (62 × 69), explicit ids
// such as `alpha-one`, the sanitiser, and the mistake detector that explains why a name is refused.

import { quote } from "@/server/errors";

export const ADJECTIVES = [
  "Red", "Orange", "Pink", "Black", "Purple", "Blue", "Brown", "White", "Green", "Chartreuse",
  "Lilac", "Fuchsia", "Azure", "Amber", "Coral", "Crimson", "Cyan", "Gold", "Gray", "Indigo",
  "Ivory", "Jade", "Lavender", "Magenta", "Maroon", "Navy", "Olive", "Pearl", "Rose", "Ruby",
  "Sage", "Scarlet", "Silver", "Teal", "Topaz", "Violet", "Cobalt", "Copper", "Bronze", "Emerald",
  "Sapphire", "Turquoise",
  "Sunny", "Misty", "Foggy", "Stormy", "Windy", "Frosty", "Dusty", "Hazy", "Cloudy", "Rainy",
  "Swift", "Quiet", "Bold", "Calm", "Bright", "Dark", "Wild", "Silent", "Gentle", "Rustic",
] as const;

export const NOUNS = [
  "Stone", "Lake", "Dog", "Creek", "Pond", "Cat", "Bear", "Mountain", "Hill", "Snow", "Castle",
  "River", "Forest", "Valley", "Canyon", "Meadow", "Prairie", "Desert", "Island", "Cliff", "Cave",
  "Glacier", "Waterfall", "Spring", "Stream", "Reef", "Dune", "Ridge", "Peak", "Gorge", "Marsh",
  "Brook", "Glen", "Grove", "Hollow", "Basin", "Cove", "Bay", "Harbor",
  "Fox", "Wolf", "Hawk", "Eagle", "Owl", "Deer", "Elk", "Moose", "Falcon", "Raven", "Heron",
  "Crane", "Otter", "Beaver", "Badger", "Finch", "Robin", "Sparrow", "Lynx", "Puma",
  "Tower", "Bridge", "Forge", "Mill", "Barn", "Gate", "Anchor", "Lantern", "Beacon", "Compass",
] as const;

/** lower-cased name → its canonical CamelCase spelling. */
const MEMORABLE_NAMES: ReadonlyMap<string, string> = new Map(
  ADJECTIVES.flatMap((adjective) =>
    NOUNS.map((noun) => [`${adjective}${noun}`.toLowerCase(), `${adjective}${noun}`] as const),
  ),
);
const NOUN_WORDS = new Set(NOUNS.map((noun) => noun.toLowerCase()));
const ADJECTIVE_WORDS = new Set(ADJECTIVES.map((adjective) => adjective.toLowerCase()));

const EXPLICIT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const EXPLICIT_SEPARATOR = /[-_.]/;

export const PROGRAM_NAMES = new Set([
  "claude-code", "claude", "codex-cli", "codex", "cursor", "windsurf", "cline", "aider", "copilot",
  "github-copilot", "gemini-cli", "gemini", "opencode", "vscode", "neovim", "vim", "emacs", "zed",
  "continue",
]);
const MODEL_FRAGMENTS = [
  "gpt-", "gpt4", "gpt3", "claude-", "opus", "sonnet", "haiku", "gemini-", "llama", "mistral",
  "codestral", "o1-", "o3-",
];
const BROADCAST_WORDS = new Set(["all", "*", "everyone", "@all", "@everyone", "everybody", "broadcast"]);
const ROLE_SUFFIXES = [
  "agent", "bot", "assistant", "helper", "manager", "coordinator", "developer", "engineer",
  "migrator", "refactorer", "fixer", "harmonizer", "integrator", "optimizer", "analyzer", "worker",
];

export type NameMode = "coerce" | "strict" | "always_auto";

export function isMemorableName(name: string): boolean {
  return MEMORABLE_NAMES.has(name.toLowerCase());
}

/** The canonical CamelCase spelling of a memorable name (`greenlake` → `GreenLake`). */
export function canonicalMemorableName(name: string): string | undefined {
  return MEMORABLE_NAMES.get(name.toLowerCase());
}

function looksLikeProgram(name: string): boolean {
  return PROGRAM_NAMES.has(name.toLowerCase());
}

function looksLikeModel(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_FRAGMENTS.some((fragment) => lower.includes(fragment));
}

/** An explicit, caller-chosen id such as `alpha-one` or `worker_42`. */
export function isExplicitId(name: string): boolean {
  const candidate = name.trim();
  return (
    EXPLICIT_ID.test(candidate) &&
    EXPLICIT_SEPARATOR.test(candidate) &&
    !looksLikeProgram(candidate) &&
    !looksLikeModel(candidate)
  );
}

/** Removes every non-alphanumeric character (`Blue Lake` → `BlueLake`); empty → undefined. */
export function sanitizeAgentName(value: string): string | undefined {
  const cleaned = value.trim().replace(/[^A-Za-z0-9]+/g, "").slice(0, 128);
  return cleaned || undefined;
}

/**
 * The form a supplied name is stored in, or undefined when it is not a valid name.
 * Explicit ids are kept verbatim; anything else is sanitised and must then be adjective+noun.
 */
export function validNameForm(supplied: string): string | undefined {
  const trimmed = supplied.trim();
  if (isExplicitId(trimmed)) return trimmed;
  const sanitized = sanitizeAgentName(trimmed);
  return sanitized && isMemorableName(sanitized) ? sanitized : undefined;
}

export type NameMistake =
  | "PROGRAM_NAME_AS_AGENT"
  | "MODEL_NAME_AS_AGENT"
  | "EMAIL_AS_AGENT"
  | "BROADCAST_ATTEMPT"
  | "DESCRIPTIVE_NAME"
  | "UNIX_USERNAME_AS_AGENT";

/** Why a string that is not a valid agent name was probably written, with advice for the caller. */
export function detectNameMistake(value: string): { type: NameMistake; message: string } | undefined {
  const name = value.trim();
  const lower = name.toLowerCase();
  if (looksLikeProgram(name)) {
    return {
      type: "PROGRAM_NAME_AS_AGENT",
      message: `'${quote(name)}' looks like a program name, not an agent name. Put the program in the 'program' field and let the server generate a name (e.g. GreenCastle).`,
    };
  }
  if (looksLikeModel(name)) {
    return {
      type: "MODEL_NAME_AS_AGENT",
      message: `'${quote(name)}' looks like a model name, not an agent name. Put the model in the 'model' field and use an agent name such as BlueLake.`,
    };
  }
  if (name.includes("@") && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(name)) {
    return {
      type: "EMAIL_AS_AGENT",
      message: `'${quote(name)}' looks like an email address. Agent names are identities like GreenCastle, not email addresses.`,
    };
  }
  if (BROADCAST_WORDS.has(lower)) {
    return {
      type: "BROADCAST_ATTEMPT",
      message: `'${quote(name)}' is a broadcast word, not an agent name. Use broadcast=true on send_message to reach every agent, or list the recipients by name.`,
    };
  }
  if (ROLE_SUFFIXES.some((suffix) => lower.endsWith(suffix))) {
    return {
      type: "DESCRIPTIVE_NAME",
      message: `'${quote(name)}' looks like a descriptive role name. Agent names must be adjective+noun identities (e.g. GreenCastle) or explicit ids containing '-', '_' or '.'; put the role in task_description.`,
    };
  }
  if (/^[a-z][a-z0-9]{1,15}$/.test(name) && !NOUN_WORDS.has(lower) && !ADJECTIVE_WORDS.has(lower)) {
    return {
      type: "UNIX_USERNAME_AS_AGENT",
      message: `'${quote(name)}' looks like a Unix username. Agent names are adjective+noun identities such as BlueLake.`,
    };
  }
  return undefined;
}

export function randomMemorableName(random: () => number = Math.random): string {
  const adjective = ADJECTIVES[Math.floor(random() * ADJECTIVES.length)]!;
  const noun = NOUNS[Math.floor(random() * NOUNS.length)]!;
  return `${adjective}${noun}`;
}

export const MEMORABLE_NAME_COUNT = MEMORABLE_NAMES.size;
