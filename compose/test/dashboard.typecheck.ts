// Dashboard tests: compile-time check (npm run typecheck) that the provisioned dashboard JSON fits @grafana/schema's types.
import type { Dashboard, Panel } from '@grafana/schema';
import type {
  FieldConfig as CandlestickFieldConfig,
  Options as CandlestickOptions,
} from '@grafana/schema/dist/esm/raw/composable/candlestick/panelcfg/x/CandlestickPanelCfg_types.gen';
import dashboardJson from '../grafana/dashboards/candles.json';

/**
 * What a JSON import makes of `T`: TypeScript types every JSON string as `string` and every number as `number`, so
 * string unions and enums of the schema are widened the same way (dashboard.test.ts checks their values at run time).
 */
export type AsJson<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer Item)[]
        ? AsJson<Item>[]
        : T extends object
          ? { [K in keyof T]: AsJson<T[K]> }
          : T;

type KeysOf<T> = T extends unknown ? keyof T : never;
type PropertyOf<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;
type ItemOf<T> = T extends readonly (infer Item)[] ? Item : never;

/**
 * `Actual` itself where every key is one the schema declares (in any member of a union), `never` at each key it does
 * not: a misspelt key (`gridpos`, `fieldconfig`) makes the assignment below fail, as an object literal would.
 */
export type NoExtraKeys<Actual, Schema> = unknown extends Schema ? Actual : KnownKeysOnly<Actual, NonNullable<Schema>>;
type KnownKeysOnly<Actual, Schema> = Actual extends readonly (infer Item)[]
  ? NoExtraKeys<Item, ItemOf<Schema>>[]
  : Actual extends object
    ? { [K in keyof Actual]: K extends KeysOf<Schema> ? NoExtraKeys<Actual[K], PropertyOf<Schema, K>> : never }
    : Actual;

/** A candlestick panel as Grafana stores it: the generic panel plus the candlestick plugin's options and field config. */
export type CandlestickPanel = Omit<Panel<CandlestickOptions, CandlestickFieldConfig>, 'options'> & {
  options: CandlestickOptions;
};

/** The kandle dashboard: a Grafana dashboard whose panels are all candlesticks. */
export type CandleDashboard = Omit<Dashboard, 'panels'> & { panels: CandlestickPanel[] };

const checked: AsJson<CandleDashboard> & NoExtraKeys<typeof dashboardJson, CandleDashboard> = dashboardJson;

/** The provisioned dashboard, type-checked; its runtime checks (names, variables, enum values) are in dashboard.test.ts. */
export const dashboard: AsJson<CandleDashboard> = checked;
