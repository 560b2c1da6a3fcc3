import { SetMetadata } from '@nestjs/common';
import type { ApiScope } from '../config/app-config';

export const SCOPE_KEY = 'arbiter:scope';
export const PUBLIC_KEY = 'arbiter:public';

/** The route needs an API key with this scope (`admin`, `ingest` or `read`). */
export const RequireScope = (scope: ApiScope) => SetMetadata(SCOPE_KEY, scope);

/** The route is open to everyone (health, metrics). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);
