import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";
import type { Measurement } from "../../core/record.js";
import type { Scenario } from "./config.js";

/** Everything the model needs to know about its reefer. */
export interface ReeferModelParams {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly setpoint: number;
  readonly targetHumidity: number;
  readonly ambientTemperature: number;
  readonly scenarioOnsetSeconds: number;
  readonly defrostIntervalHours: number;
  readonly defrostMinutes: number;
  readonly doorOpeningsPerDay: number;
  readonly track?:
    | {
        readonly latitude: number;
        readonly longitude: number;
        readonly headingDegrees: number;
        readonly speedKnots: number;
      }
    | undefined;
}

// Thermal constants, per model second. Chosen so a healthy 40 ft reefer behaves plausibly: the
// box gains ~2.5 °C/h through its walls at 25 °C outside, the compressor pulls ~14 °C/h, so it
// cycles every half hour or so around the setpoint.
const WALL_LEAK_PER_S = 1 / 28_800;
const COMPRESSOR_COOLING_C_PER_S = 0.004;
const DEFROST_HEATING_C_PER_S = 0.003;
const DOOR_LEAK_FACTOR = 30;
/** Compressor failure in `temperature-rising`: heat from the stalled unit and no cooling. */
const FAULT_HEATING_C_PER_S = 0.01;
const THERMOSTAT_BAND_C = 0.5;
const MAX_STEP_S = 5;
const AMBIENT_SWING_C = 4;
const SECONDS_PER_DAY = 86_400;

/**
 * A small physical model of a reefer: return-air temperature around the setpoint with compressor
 * cycling, wall leak towards ambient, periodic defrost, door openings, power draw, atmosphere,
 * fans and an optional GPS track. Deterministic for a seed and a sequence of `advance` calls.
 */
export class ReeferModel {
  private readonly rng: RandomGenerator;
  private elapsedSeconds = 0;
  private returnAir: number;
  private compressorOn = false;
  private secondsToDefrost: number;
  private defrostSecondsLeft = 0;
  private doorSecondsLeft = 0;
  private doorOpenSinceSample = 0;
  private latitude: number | null;
  private longitude: number | null;

  constructor(private readonly params: ReeferModelParams) {
    this.rng = xoroshiro128plus(params.seed);
    this.returnAir = params.setpoint + (this.uniform() - 0.5) * THERMOSTAT_BAND_C;
    // Stagger defrost so a fleet does not defrost in lockstep.
    this.secondsToDefrost = this.uniform() * params.defrostIntervalHours * 3600;
    this.latitude = params.track?.latitude ?? null;
    this.longitude = params.track?.longitude ?? null;
  }

  /** Runs the model forward by `seconds` of model time. */
  advance(seconds: number): void {
    let remaining = Math.max(0, seconds);
    while (remaining > 0) {
      const step = Math.min(MAX_STEP_S, remaining);
      this.step(step);
      remaining -= step;
    }
  }

  /** Reads the sensors as a controller would report them, with sensor noise. */
  sample(): Measurement {
    const faulty = this.faultActive();
    const scenario = this.params.scenario;
    const powered = !(faulty && scenario === "power-off");
    const fansRunning = powered && this.defrostSecondsLeft <= 0;
    // The faults sit clearly past the original simulator's 12 % limits, as a failed sensor or scrubber would.
    const co2 = faulty && scenario === "co2-sensor" ? 12.8 + this.gauss(0.25) : 3 + this.gauss(0.3);
    const o2 = faulty && scenario === "o2-sensor" ? 11 + this.gauss(0.25) : 20.5 + this.gauss(0.15);
    const doorOpen = this.doorOpenSinceSample;
    this.doorOpenSinceSample = 0;
    return {
      temperature: round(this.returnAir + this.gauss(0.05), 2),
      target_temperature: this.params.setpoint,
      ambient_temperature: round(this.ambient() + this.gauss(0.1), 2),
      humidity_level: round(clamp(this.params.targetHumidity + this.gauss(1.5), 0, 100), 1),
      kilowatts: round(this.powerDraw(powered), 2),
      oxygen_level: round(o2, 2),
      carbon_dioxide_level: round(co2, 2),
      nitrogen_level: round(100 - o2 - co2 - 0.93, 2),
      fan_1: fansRunning,
      fan_2: fansRunning && !(faulty && scenario === "fan-failure"),
      fan_3: fansRunning,
      time_door_open: round(doorOpen, 1),
      defrost_cycle: powered && this.defrostSecondsLeft > 0,
      latitude: this.latitude === null ? null : round(this.latitude, 5),
      longitude: this.longitude === null ? null : round(this.longitude, 5),
    };
  }

  private step(dt: number): void {
    this.elapsedSeconds += dt;
    const faulty = this.faultActive();
    const scenario = this.params.scenario;
    const powered = !(faulty && scenario === "power-off");
    const ambient = this.ambient();

    this.updateDefrost(dt, powered);
    this.updateDoor(dt, faulty && scenario === "door-open");

    // Thermostat with a dead band; the compressor rests during defrost and without power.
    const compressorWorks = powered && !(faulty && scenario === "temperature-rising");
    if (!compressorWorks || this.defrostSecondsLeft > 0) this.compressorOn = false;
    else if (this.returnAir > this.params.setpoint + THERMOSTAT_BAND_C) this.compressorOn = true;
    else if (this.returnAir < this.params.setpoint - THERMOSTAT_BAND_C) this.compressorOn = false;

    let rate = (ambient - this.returnAir) * WALL_LEAK_PER_S;
    if (this.doorSecondsLeft > 0) rate *= DOOR_LEAK_FACTOR;
    if (this.compressorOn) {
      // A failed fan halves the air moved over the evaporator.
      const efficiency = faulty && scenario === "fan-failure" ? 0.5 : 1;
      rate -= COMPRESSOR_COOLING_C_PER_S * efficiency;
    }
    if (this.defrostSecondsLeft > 0) rate += DEFROST_HEATING_C_PER_S;
    if (faulty && scenario === "temperature-rising" && this.returnAir < ambient + 15) {
      rate += FAULT_HEATING_C_PER_S;
    }
    this.returnAir += rate * dt;
    this.moveAlongTrack(dt);
  }

  private updateDefrost(dt: number, powered: boolean): void {
    if (this.defrostSecondsLeft > 0) {
      this.defrostSecondsLeft = Math.max(0, this.defrostSecondsLeft - dt);
      return;
    }
    if (!powered) return;
    this.secondsToDefrost -= dt;
    if (this.secondsToDefrost <= 0) {
      this.defrostSecondsLeft = this.params.defrostMinutes * 60;
      this.secondsToDefrost = this.params.defrostIntervalHours * 3600;
    }
  }

  private updateDoor(dt: number, stuckOpen: boolean): void {
    if (stuckOpen) {
      this.doorSecondsLeft = Number.POSITIVE_INFINITY;
    } else if (this.doorSecondsLeft <= 0) {
      // Poisson arrivals of brief inspections, 2 to 5 minutes each.
      const probability = (this.params.doorOpeningsPerDay / SECONDS_PER_DAY) * dt;
      if (this.uniform() < probability) this.doorSecondsLeft = 120 + this.uniform() * 180;
    }
    if (this.doorSecondsLeft > 0) {
      const open = Math.min(dt, this.doorSecondsLeft);
      this.doorOpenSinceSample += open;
      this.doorSecondsLeft -= open;
    }
  }

  private moveAlongTrack(dt: number): void {
    const track = this.params.track;
    if (!track || this.latitude === null || this.longitude === null) return;
    // One knot is one nautical mile an hour, and a nautical mile is a minute of latitude.
    const degrees = (track.speedKnots * dt) / 3600 / 60;
    const heading = (track.headingDegrees * Math.PI) / 180;
    this.latitude = clamp(this.latitude + degrees * Math.cos(heading), -89.9, 89.9);
    const lonScale = Math.max(0.01, Math.cos((this.latitude * Math.PI) / 180));
    this.longitude = wrapLongitude(this.longitude + (degrees * Math.sin(heading)) / lonScale);
  }

  private powerDraw(powered: boolean): number {
    if (!powered) return 0;
    if (this.defrostSecondsLeft > 0) return 3.5 + this.gauss(0.1);
    if (this.compressorOn) return 4.5 + this.gauss(0.2);
    return 0.6 + this.gauss(0.05);
  }

  private ambient(): number {
    const phase = (2 * Math.PI * this.elapsedSeconds) / SECONDS_PER_DAY;
    return this.params.ambientTemperature + AMBIENT_SWING_C * Math.sin(phase);
  }

  private faultActive(): boolean {
    return (
      this.params.scenario !== "normal" && this.elapsedSeconds >= this.params.scenarioOnsetSeconds
    );
  }

  private uniform(): number {
    return uniformFloat64(this.rng);
  }

  /** Normal noise with standard deviation `sigma` (Box–Muller). */
  private gauss(sigma: number): number {
    const u = Math.max(this.uniform(), Number.MIN_VALUE);
    return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function wrapLongitude(longitude: number): number {
  return ((((longitude + 180) % 360) + 360) % 360) - 180;
}
