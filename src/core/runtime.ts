import type { Dispatcher } from 'undici';
import type { RouteConfig, ServiceConfig } from '../config/schema.js';
import type { Chain } from './pipeline.js';

/** A service ready to receive traffic: its upstream origin and the dispatcher that reaches it. */
export interface CompiledService {
  name: string;
  config: ServiceConfig;
  /** `http://host:port` */
  origin: string;
  /** Path prefix of the service URL ('' or '/base'). */
  basePath: string;
  /** Host header value when preserve_host is off. */
  hostHeader: string;
  dispatcher: Dispatcher;
}

/** A route with its service and its precomputed plugin chain. */
export interface CompiledRoute {
  name: string;
  config: RouteConfig;
  service: CompiledService;
  chain: Chain;
}
