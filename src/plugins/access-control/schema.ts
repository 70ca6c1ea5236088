import { z } from 'zod';

/** `access-control` config (SPEC §5): what an authenticated caller needs on this scope. */
export const accessControlSchema = z
  .strictObject({
    required_scopes: z.array(z.string().min(1)).default([]).describe('Scopes the caller must all hold (else 403 insufficient_scope).'),
    allowed_roles: z.array(z.string().min(1)).default([]).describe('Roles of which the caller must hold at least one (else 403).'),
  })
  .refine((c) => c.required_scopes.length + c.allowed_roles.length > 0, {
    message: 'set required_scopes or allowed_roles (or both)',
    path: ['required_scopes'],
  });

export type AccessControlConfig = z.output<typeof accessControlSchema>;
