// What @kubernetes/client-node's dist/config.js imports from its generated API package, and nothing else:
// client-node.ts points that one import here, so loading KubeConfig does not load every generated API
// model (about 50 MB of memory this webhook never uses).
export { createConfiguration } from '@kubernetes/client-node/dist/gen/configuration.js';
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';
