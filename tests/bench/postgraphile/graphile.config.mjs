// PostGraphile 5 for tests/bench/graphql.sh: the amber preset over Hive's
// tables (schema `public`), a pool of ten connections, production mode (the
// script sets NODE_ENV=production): no GraphiQL, no explain, no watch.
// DATABASE_URL and PORT come from the script.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: 10 },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? 18491),
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    watch: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
