/**
 * The public API report: api-extractor reads each entry's built declarations (dist/, so `npm run build` first) and
 * writes its surface to etc/<entry>.api.md. `npm run api` fails when the surface differs from the committed report
 * (a change to the public API must come with its report: run `npm run api:update` and commit etc/).
 *
 * Usage: node scripts/api-report.mjs [--update]
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const root = fileURLToPath(new URL('..', import.meta.url));
const update = process.argv.includes('--update');
const entries = {
  weftjs: 'index',
  'weftjs-threads': 'threads/index',
  'weftjs-node': 'node/index',
  'weftjs-redis': 'redis/index',
  'weftjs-testing': 'testing/index',
};

// The report is the point; the TSDoc and release-tag advice api-extractor also gives is typedoc's and the
// doc-example extractor's ground, so it is not repeated here.
const quiet = { logLevel: ExtractorLogLevel.None };

let failed = 0;
for (const [name, entry] of Object.entries(entries)) {
  const dts = join(root, 'dist', `${entry}.d.ts`);
  if (!existsSync(dts)) {
    console.error(`api: ${dts} is missing: run \`npm run build\` first`);
    process.exit(2);
  }
  mkdirSync(join(root, 'etc'), { recursive: true });
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: root,
      mainEntryPointFilePath: dts,
      bundledPackages: [],
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2022', 'ESNext.Disposable', 'DOM'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            types: ['node'],
            strict: true,
            skipLibCheck: true,
          },
          files: [dts],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: `${name}.api.md`,
        reportFolder: join(root, 'etc'),
        reportTempFolder: join(root, 'node_modules', '.cache', 'api-extractor'),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
        extractorMessageReporting: {
          default: quiet,
          'ae-forgotten-export': quiet,
          'ae-missing-release-tag': quiet,
          'ae-internal-missing-underscore': quiet,
        },
        tsdocMessageReporting: { default: quiet },
      },
    },
    configObjectFullPath: undefined,
    packageJsonFullPath: join(root, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false });
  if (result.apiReportChanged && !update) {
    failed++;
    console.error(`api: the public API of '${name.replace('-', '/')}' changed: etc/${name}.api.md is out of date`);
  } else if (!result.succeeded) {
    failed++;
    console.error(`api: api-extractor failed on ${entry} (${result.errorCount} errors)`);
  } else {
    console.log(`api: ${name.replace('-', '/')} ${update && result.apiReportChanged ? 'report updated' : 'matches'}`);
  }
}
if (failed > 0) {
  console.error('api: run `npm run api:update` and commit etc/ with the change that made it');
  process.exit(1);
}
