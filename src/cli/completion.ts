import type { Command } from './commands.js';

// Shell completion generated from the command table, so it offers exactly the commands and flags --help lists.

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

function flagsOf(command: Command): string[] {
  return [
    ...command.options.flatMap((option) => [`--${option.name}`, ...(option.short ? [`-${option.short}`] : [])]),
    '--help',
  ];
}

/** The completion function's name: one per program, so `kubectl storage-policy` and `storage-policy` can coexist. */
function functionName(program: string): string {
  return `_${program.replace(/[^A-Za-z0-9]+/g, '_')}_complete`;
}

function bash(commands: readonly Command[], program: string): string {
  const cases = commands.map((command) => `    ${command.name}) flags="${flagsOf(command).join(' ')}" ;;`).join('\n');
  const binary = program.split(' ').pop() ?? program;
  return `# bash completion for ${program}: source <(${program} completion bash)
${functionName(program)}() {
  local current="\${COMP_WORDS[COMP_CWORD]}" command="\${COMP_WORDS[1]}" flags=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((command) => command.name).join(' ')} --help --version" -- "$current"))
    return
  fi
  case "$command" in
${cases}
  esac
  if [[ "$current" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$current"))
  else
    COMPREPLY=($(compgen -f -- "$current"))
  fi
}
complete -o filenames -F ${functionName(program)} ${binary}
`;
}

function zsh(commands: readonly Command[], program: string): string {
  const binary = program.split(' ').pop() ?? program;
  const names = commands.map((command) => `'${command.name}:${command.summary.replace(/'/g, "'\\''")}'`).join(' ');
  const cases = commands
    .map(
      (command) =>
        `    ${command.name}) _arguments '*:file:_files' ${flagsOf(command)
          .map((flag) => `'${flag}'`)
          .join(' ')} ;;`,
    )
    .join('\n');
  return `#compdef ${binary}
# zsh completion for ${program}: source <(${program} completion zsh)
${functionName(program)}() {
  if (( CURRENT == 2 )); then
    local -a commands=(${names})
    _describe command commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
compdef ${functionName(program)} ${binary}
`;
}

function fish(commands: readonly Command[], program: string): string {
  const binary = program.split(' ').pop() ?? program;
  const lines = [`# fish completion for ${program}: ${program} completion fish | source`, `complete -c ${binary} -f`];
  for (const command of commands) {
    lines.push(
      `complete -c ${binary} -n __fish_use_subcommand -a ${command.name} -d '${command.summary.replace(/'/g, "\\'")}'`,
    );
    for (const option of command.options) {
      const short = option.short ? ` -s ${option.short}` : '';
      const takesValue = option.type === 'string' ? ' -r -F' : '';
      lines.push(
        `complete -c ${binary} -n '__fish_seen_subcommand_from ${command.name}' -l ${option.name}${short}${takesValue} -d '${option.help.slice(0, 60).replace(/'/g, "\\'")}'`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, commands: readonly Command[], program: string): string {
  if (shell === 'bash') return bash(commands, program);
  return shell === 'zsh' ? zsh(commands, program) : fish(commands, program);
}

/** Cobra's directives (spf13/cobra completions.go), the last line of a `__complete` answer. */
const NO_FILE_COMPLETION = 4;
const DEFAULT_COMPLETION = 0;

/**
 * The answer to a completion request in Cobra's `__complete` protocol, which kubectl (1.26+) speaks with a plugin's
 * `kubectl_complete-<plugin>` executable: `words` are the arguments after the program, the last the word being
 * completed (possibly empty); the answer is one candidate a line (`candidate<TAB>description`), then `:directive`.
 * The same command table as --help and the completion scripts: commands first, then a command's flags, else files.
 */
export function completionAnswer(commands: readonly Command[], words: readonly string[]): string[] {
  const partial = words[words.length - 1] ?? '';
  const starts = (candidate: string): boolean => candidate.startsWith(partial);
  if (words.length <= 1) {
    const candidates = [
      ...commands.map((command) => `${command.name}\t${command.summary}`),
      '--help\tlist the commands',
      '--version\tprint the version',
    ];
    return [...candidates.filter((line) => starts(line.split('\t')[0] ?? '')), `:${NO_FILE_COMPLETION}`];
  }
  const command = commands.find((candidate) => candidate.name === words[0]);
  if (!command) return [`:${NO_FILE_COMPLETION}`];
  if (!partial.startsWith('-')) return [`:${DEFAULT_COMPLETION}`];
  return [...flagsOf(command).filter(starts), `:${NO_FILE_COMPLETION}`];
}
