/**
 * The layering of leadflow (issue 9), checked by `npm run lint`. Areas under src/modules/<area>/
 * form layers; an area imports only from layers below it, and only through that area's index.ts.
 * A lower area that has news for a higher one enqueues an id-only job on a queue named in
 * src/queues/ (or writes a record a higher area's worker reconciles) — it never imports upward.
 *
 * Areas that do not exist yet are listed too, so their code is checked the moment it lands.
 * Keep this list, src/modules/README.md and the README's architecture section in step.
 */
const layers = [
  ['admin', 'suppression'],
  ['crm'],
  ['leads'],
  ['events'],
  ['webhooks'],
  ['forms', 'imports'],
  ['email'],
  ['sequences'],
  ['scoring'],
  ['qualification'],
  ['handoff'],
  ['reports'],
  ['maintenance'],
];

/** Everything that sits on top of the areas: the HTTP app, the web app, the CLI, workers, benches. */
const top = [
  '^src/app\\.ts$',
  '^src/server\\.ts$',
  '^src/main\\.ts$',
  '^src/modules/areas\\.ts$',
  '^src/modules/web/',
  '^src/web/',
  '^src/cli/',
  '^workers/',
  '^bench/',
];
/** The toolbox at the bottom: knows no business area. */
const bottom = ['^src/lib/', '^src/queues/', '^src/config\\.ts$'];

const known = layers.flat();
const area = (name) => `^src/modules/${name}/`;

/** For each area: every area in its own layer or above it, and everything on top. */
const layerRules = layers.flatMap((layer, rank) =>
  layer.map((name) => {
    const notBelow = layers
      .slice(rank)
      .flat()
      .filter((other) => other !== name);
    return {
      name: `layer-${name}`,
      severity: 'error',
      comment: `${name} may import only areas below its layer (${
        layers.slice(0, rank).flat().join(', ') || 'none'
      }), lib, config and queues. Tell a higher area through a queue in src/queues/.`,
      from: { path: area(name) },
      to: { path: [...notBelow.map(area), ...top] },
    };
  }),
);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'lib-knows-no-area',
      severity: 'error',
      comment: 'src/lib, src/queues and src/config.ts are a toolbox: they import no area and nothing on top.',
      from: { path: bottom },
      to: { path: ['^src/modules/', ...top] },
    },
    {
      name: 'unknown-area',
      severity: 'error',
      comment: `An area folder must be placed in the layer list of .dependency-cruiser.cjs (known: ${known.join(', ')}, web).`,
      from: { path: `^src/modules/(?!(?:${[...known, 'web'].join('|')})/)[^/]+/` },
      to: {},
    },
    {
      name: 'through-index-only',
      severity: 'error',
      comment: 'Import another area only through its index.ts (what it offers to other areas).',
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/[^/]+/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'through-index-only-from-top',
      severity: 'error',
      comment: 'The app, CLI, workers and benches reach an area only through its index.ts.',
      from: { path: top, pathNot: ['^src/modules/web/'] },
      to: { path: '^src/modules/[^/]+/', pathNot: '^src/modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles: a cycle means two files (or areas) know each other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-tests',
      severity: 'error',
      comment: 'Production code never imports test code.',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // type-only imports couple areas as much as value imports do
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
