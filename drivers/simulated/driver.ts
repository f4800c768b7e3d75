import type { Measurement } from "../../core/record.js";
import type { Driver, DriverContext, DriverDefinition } from "../driver.js";
import { simulatedDriverConfig, type SimulatedDriverConfig } from "./config.js";
import { ReeferModel } from "./model.js";

/**
 * A simulated reefer: a real driver (not a test double) whose "hardware" is `ReeferModel`. Model
 * time follows the injected monotonic clock, scaled by `timeScale`, so a demo can run an hour of
 * reefer life in a minute and a test can step it exactly.
 */
class SimulatedDriver implements Driver {
  private readonly model: ReeferModel;
  private readonly timeScale: number;
  private lastReadMonotonic: number | null = null;

  constructor(
    config: SimulatedDriverConfig,
    private readonly context: DriverContext,
  ) {
    this.model = new ReeferModel({
      ...config,
      setpoint: context.product.targetTemperature,
      targetHumidity: context.product.targetHumidity,
    });
    this.timeScale = config.timeScale;
  }

  open(): Promise<void> {
    return Promise.resolve();
  }

  read(signal: AbortSignal): Promise<Measurement> {
    if (signal.aborted) return Promise.reject(new Error("read aborted"));
    const now = this.context.clock.monotonic();
    if (this.lastReadMonotonic !== null) {
      this.model.advance(((now - this.lastReadMonotonic) / 1000) * this.timeScale);
    }
    this.lastReadMonotonic = now;
    return Promise.resolve(this.model.sample());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const simulatedDriver: DriverDefinition<typeof simulatedDriverConfig> = {
  configSchema: simulatedDriverConfig,
  create: (config, context) => new SimulatedDriver(config, context),
};
