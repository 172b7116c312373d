#!/usr/bin/env node
// The bin's entry: the one module loaded before the Node.js version is known. The commands need Node.js 24
// (node:module registerHooks loads the cluster client), and on an older Node their imports fail with a
// SyntaxError about a missing export that says nothing of the cause. So nothing else is imported statically.
const MINIMUM_NODE_MAJOR = 24;

if (Number(process.versions.node.split('.')[0]) < MINIMUM_NODE_MAJOR) {
  process.stderr.write(
    `storage-policy needs Node.js ${MINIMUM_NODE_MAJOR} or newer; this is Node.js ${process.versions.node}.\n` +
      `In a checkout after npm ci, run it as: npx storage-policy ... (npm puts the Node.js the project installs first on PATH).\n` +
      `Elsewhere, install Node.js ${MINIMUM_NODE_MAJOR} or newer.\n`,
  );
  process.exitCode = 2;
} else {
  const { runCli } = await import('./commands.js');
  await runCli(process.argv.slice(2));
}
