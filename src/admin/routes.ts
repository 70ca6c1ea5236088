import type { FastifyInstance } from 'fastify';
import type { AdminContext } from './context.js';
import { consumerRoutes } from './consumers.js';
import { configRoutes } from './config.js';
import { workspaceRoutes } from './workspaces.js';
import { oauth2Routes } from './oauth2.js';

/** An Admin API area (consumers, workspaces, config, …) registers its routes here. */
export type AdminRoutes = (app: FastifyInstance, ctx: AdminContext) => void | Promise<void>;

/** Every Admin API area, listed explicitly. */
export const ADMIN_ROUTES: readonly AdminRoutes[] = [consumerRoutes, oauth2Routes, configRoutes, workspaceRoutes];
