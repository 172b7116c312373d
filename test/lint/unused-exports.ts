// Unused-exports check for src/: an export that no other file imports is either dead code or should not
// be exported. Uses the TypeScript language service (the compiler is a dev dependency already), so it
// follows re-exports, type-only imports and aliases exactly as tsc resolves them. Run by `npm run lint`.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

function languageService(): { service: ts.LanguageService; files: string[] } {
  const configFile = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => readFileSync(path, 'utf8'));
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => parsed.options,
    getScriptFileNames: () => parsed.fileNames,
    getScriptVersion: () => '1',
    getScriptSnapshot: (path) =>
      ts.sys.fileExists(path) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(path) ?? '') : undefined,
    getCurrentDirectory: () => ROOT,
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    fileExists: (path) => ts.sys.fileExists(path),
    readFile: (path) => ts.sys.readFile(path),
    readDirectory: (...args) => ts.sys.readDirectory(...args),
  };
  return { service: ts.createLanguageService(host), files: parsed.fileNames };
}

function exportedNames(source: ts.SourceFile): ts.Identifier[] {
  const names: ts.Identifier[] = [];
  for (const statement of source.statements) {
    if (
      !ts.canHaveModifiers(statement) ||
      !ts.getModifiers(statement)?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)
    )
      continue;
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations)
        if (ts.isIdentifier(declaration.name)) names.push(declaration.name);
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name
    ) {
      names.push(statement.name);
    }
  }
  return names;
}

const { service, files } = languageService();
const program = service.getProgram();
if (!program) throw new Error('no TypeScript program');
const unused: string[] = [];
for (const file of files.filter((path) => relative(ROOT, path).startsWith('src/'))) {
  const source = program.getSourceFile(file);
  if (!source) continue;
  for (const name of exportedNames(source)) {
    const references = service.findReferences(file, name.getStart()) ?? [];
    const elsewhere = references.some((symbol) => symbol.references.some((reference) => reference.fileName !== file));
    if (!elsewhere) {
      const { line } = source.getLineAndCharacterOfPosition(name.getStart());
      unused.push(
        `${relative(ROOT, file)}:${line + 1}: ${name.text} is exported but no other file imports it; remove the export (or the code)`,
      );
    }
  }
}
if (unused.length > 0) {
  process.stderr.write(`${unused.join('\n')}\n${unused.length} unused export(s)\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('unused exports: none\n');
}
