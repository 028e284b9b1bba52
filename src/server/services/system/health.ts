import type { ServiceContext } from "../context";

export interface HealthCheck {
  status: "ok";
  environment: string;
  http_host: string;
  http_port: number;
  database_url: string;
}

/** health_check: readiness echo of the configuration (the password in the database URL is redacted). */
export function healthCheck(ctx: Pick<ServiceContext, "config">): HealthCheck {
  return {
    status: "ok",
    environment: ctx.config.environment,
    http_host: ctx.config.httpHost,
    http_port: ctx.config.httpPort,
    database_url: ctx.config.databaseLabel,
  };
}

export function environmentResource(ctx: Pick<ServiceContext, "config">) {
  return {
    environment: ctx.config.environment,
    database_url: ctx.config.databaseLabel,
    http: { host: ctx.config.httpHost, port: ctx.config.httpPort, path: ctx.config.mcpPath },
  };
}
