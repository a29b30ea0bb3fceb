#!/usr/bin/env node
// Native-solc command line on top of solcjs, for forge (`solc = "../.tools/bin/solc"`).
//
// forge needs two things from a solc binary:
//   `solc --version`        -> "solc, the solidity compiler commandline interface\nVersion: X"
//   `solc --standard-json [--base-path P] [--include-path P]... [--allow-paths A,B]`
//                           -> Standard JSON input on stdin, Standard JSON output on stdout.
// Both are answered here with the solcjs package that scripts/setup-tools.sh installed
// (located through $SOLCJS_MODULE). forge inlines every source's content in the input, so the
// import callback below is a fallback that mirrors native solc's file loading: paths are looked
// up under the base path and include paths, and only files under those or `--allow-paths` load.
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`solc (solcjs wrapper): ${msg}\n`);
  process.exit(1);
}

function loadSolc() {
  const mod = process.env.SOLCJS_MODULE;
  if (!mod) die('SOLCJS_MODULE is not set; run scripts/setup-tools.sh');
  return require(mod);
}

function parseArgs(argv) {
  const opts = { mode: null, basePath: null, includePaths: [], allowPaths: [], inputFile: null };
  // Flags that take a value; `--flag=value` is accepted too.
  const valued = new Set(['--base-path', '--include-path', '--allow-paths']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value = null;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (valued.has(arg) && value === null) {
      if (i + 1 >= argv.length) die(`${arg} needs a value`);
      value = argv[++i];
    }
    switch (arg) {
      case '--version':
        opts.mode = 'version';
        break;
      case '--help':
        opts.mode = 'help';
        break;
      case '--standard-json':
        opts.mode = opts.mode || 'standard-json';
        break;
      case '--base-path':
        opts.basePath = path.resolve(value);
        break;
      case '--include-path':
        opts.includePaths.push(path.resolve(value));
        break;
      case '--allow-paths':
        for (const p of value.split(',')) if (p) opts.allowPaths.push(path.resolve(p));
        break;
      default:
        if (arg.startsWith('-')) {
          // Native-only flags (e.g. --pretty-json, --no-import-callback) change nothing we rely on.
          break;
        }
        // solc accepts the standard-json input file as a positional argument.
        if (opts.mode === 'standard-json' && opts.inputFile === null) {
          opts.inputFile = arg;
          break;
        }
        die(`unsupported argument '${argv[i]}' (only --version and --standard-json are supported)`);
    }
  }
  return opts;
}

function isWithin(file, dir) {
  const rel = path.relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function makeImportCallback(opts) {
  const base = opts.basePath || process.cwd();
  const roots = [base, ...opts.includePaths];
  const allowed = [...roots, ...opts.allowPaths];
  return function findImports(sourceUnitName) {
    const candidates = path.isAbsolute(sourceUnitName)
      ? [sourceUnitName]
      : roots.map((root) => path.join(root, sourceUnitName));
    for (const candidate of candidates) {
      const file = path.resolve(candidate);
      if (!allowed.some((dir) => isWithin(file, dir))) continue;
      try {
        return { contents: fs.readFileSync(file, 'utf8') };
      } catch (_) {
        // Try the next root.
      }
    }
    return { error: `File not found inside the base path or any include path: ${sourceUnitName}` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.mode === 'help' || opts.mode === null) {
    process.stdout.write(
      'solc (solcjs wrapper): supports `--version` and ' +
        '`--standard-json [--base-path P] [--include-path P] [--allow-paths A,B] [input.json]`\n',
    );
    process.exit(opts.mode === 'help' ? 0 : 1);
  }
  const solc = loadSolc();
  if (opts.mode === 'version') {
    process.stdout.write(
      `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`,
    );
    return;
  }
  const input = fs.readFileSync(opts.inputFile === null ? 0 : opts.inputFile, 'utf8');
  const output = solc.compile(input, { import: makeImportCallback(opts) });
  process.stdout.write(output);
  process.stdout.write('\n');
}

main();
