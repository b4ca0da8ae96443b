import type { Command } from 'commander';
import * as apply from './apply.js';
import * as asyncCommands from './async.js';
import * as deploy from './deploy.js';
import * as doctor from './doctor.js';
import * as exporter from './export.js';
import * as functions from './functions.js';
import * as imageRemoval from './image-removal.js';
import * as images from './images.js';
import * as inspect from './inspect.js';
import * as instances from './instances.js';
import * as invoke from './invoke.js';
import * as login from './login.js';
import * as logs from './logs.js';
import * as push from './push.js';
import * as runtimes from './runtimes.js';
import * as save from './save.js';
import * as secrets from './secrets.js';
import * as serve from './serve.js';
import * as system from './system.js';
import * as top from './top.js';
import * as versions from './versions.js';
import * as volumes from './volumes.js';

/**
 * Every `kiln` command, one module each: a module registers its own command(s) and
 * options. A new command is a new file here plus one line in this list.
 */
const COMMANDS: { register(program: Command): void }[] = [
  serve,
  deploy,
  apply,
  invoke,
  asyncCommands,
  logs,
  functions,
  inspect,
  versions,
  secrets,
  volumes,
  instances,
  top,
  doctor,
  system,
  runtimes,
  push,
  save,
  images,
  imageRemoval,
  exporter,
  login,
];

export function registerCommands(program: Command): void {
  for (const command of COMMANDS) command.register(program);
}
