import { createHash } from "node:crypto";

import type { LoggedRecord } from "./verify-log.js";

/**
 * A voyage's readings as GS1 EPCIS 2.0 sensor events (JSON-LD), for partners whose traceability
 * systems speak EPCIS: one ObjectEvent per reading, action OBSERVE, business step
 * sensor_reporting, the container as its object and the gateway as its read point. Each event's
 * `eventID` is its EPCIS event hash (GS1's CBV 2.0 event hash, `ni:///sha-256;…?ver=CBV2.0`), so
 * a receiver can recompute it and tell an event altered on the way, and two exports of the same
 * reading give the same id.
 *
 * Written here, not taken from a library: the event hash's reference implementation is Python
 * (epcis-event-hash-generator, which the tests run against every export), and no npm package
 * computes it. Only the event shape made here is hashed, so the pre-hash string is built for it
 * rather than for any EPCIS document; test/audit/epcis.test.ts checks it against the Python one.
 */

export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/** The namespace of the fields EPCIS has no place for: the reading's own, and its log's. */
export const REEFER_NAMESPACE = "urn:reefer-edge:epcis:";

/** Where ids come from: containers and gateways as URIs (any URI is an EPCIS 2.0 identifier). */
export type EpcisIds = {
  /** Prefixes a container id: the default a private URN; an owner of a GS1 company prefix may map to GIAI. */
  containerPrefix: string;
  gatewayPrefix: string;
};

export const DEFAULT_EPCIS_IDS: EpcisIds = {
  containerPrefix: "urn:reefer-edge:container:",
  gatewayPrefix: "urn:reefer-edge:gateway:",
};

type SensorReport = {
  type: string;
  chemicalSubstance?: string;
  value: number;
  uom: string;
};

export type EpcisEvent = {
  type: "ObjectEvent";
  eventID: string;
  eventTime: string;
  eventTimeZoneOffset: "+00:00";
  epcList: [string];
  action: "OBSERVE";
  bizStep: "sensor_reporting";
  readPoint: { id: string };
  sensorElementList: [
    { sensorMetadata: { time: string; deviceID: string }; sensorReport: SensorReport[] },
  ];
} & Record<`reefer:${string}`, string | number | boolean>;

/** InChIKeys of the gases a controlled-atmosphere reefer measures (GS1's examples name gases so). */
const INCHIKEY = "https://identifiers.org/inchikey:";
const GASES = {
  oxygen_level: `${INCHIKEY}MYMOFIZGZYHOMD-UHFFFAOYSA-N`,
  carbon_dioxide_level: `${INCHIKEY}CURLTUGMZLYLDI-UHFFFAOYSA-N`,
  nitrogen_level: `${INCHIKEY}IJGRMHOSHXDMSA-UHFFFAOYSA-N`,
} as const;

/** Reading fields that go into the event as extension fields, and their names there. */
const EXTENSIONS: Record<string, string> = {
  container_id: "containerId",
  gateway_id: "gatewayId",
  seq: "seq",
  log_id: "logId",
  log_index: "logIndex",
  boot_id: "bootId",
  product_id: "productId",
  target_temperature: "targetTemperature",
  ambient_temperature: "ambientTemperature",
  time_door_open: "timeDoorOpen",
  latitude: "latitude",
  longitude: "longitude",
  fan_1: "fan1",
  fan_2: "fan2",
  fan_3: "fan3",
  defrost_cycle: "defrostCycle",
  clock: "clock",
  clock_correction_ms: "clockCorrectionMs",
};

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** The reading's event, its eventID the event hash. Throws, naming the field, on one it cannot describe. */
export function epcisEventOf(record: LoggedRecord, ids: EpcisIds = DEFAULT_EPCIS_IDS): EpcisEvent {
  const container = record.container_id;
  const gateway = record.gateway_id;
  const time = record.measurement_time;
  if (typeof container !== "string" || typeof gateway !== "string" || typeof time !== "string")
    throw new Error("a reading needs container_id, gateway_id and measurement_time");
  const at = new Date(time);
  if (Number.isNaN(at.getTime())) throw new Error(`measurement_time ${time} is not a time`);
  const reports: SensorReport[] = [];
  if (isNumber(record.temperature))
    reports.push({ type: "gs1:Temperature", value: record.temperature, uom: "CEL" });
  if (isNumber(record.humidity_level))
    reports.push({ type: "gs1:RelativeHumidity", value: record.humidity_level, uom: "P1" });
  for (const [field, substance] of Object.entries(GASES)) {
    const value = record[field];
    if (isNumber(value))
      reports.push({ type: "gs1:Concentration", chemicalSubstance: substance, value, uom: "P1" });
  }
  if (isNumber(record.kilowatts))
    reports.push({ type: "gs1:Power", value: record.kilowatts, uom: "KWT" });
  const epc = `${ids.containerPrefix}${container}`;
  const eventTime = at.toISOString();
  const event = {
    type: "ObjectEvent",
    eventID: "",
    eventTime,
    eventTimeZoneOffset: "+00:00",
    epcList: [epc],
    action: "OBSERVE",
    bizStep: "sensor_reporting",
    readPoint: { id: `${ids.gatewayPrefix}${gateway}` },
    sensorElementList: [
      { sensorMetadata: { time: eventTime, deviceID: epc }, sensorReport: reports },
    ],
  } as EpcisEvent;
  for (const [field, name] of Object.entries(EXTENSIONS)) {
    const value = record[field];
    if (isNumber(value) || typeof value === "string" || typeof value === "boolean")
      event[`reefer:${name}`] = value;
  }
  event.eventID = epcisEventHash(event);
  return event;
}

/** A document of events, as EPCIS 2.0 JSON-LD has it. */
export function epcisDocument(events: readonly EpcisEvent[], createdAt: Date) {
  return {
    "@context": [EPCIS_CONTEXT, { reefer: REEFER_NAMESPACE }],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: createdAt.toISOString(),
    epcisBody: { eventList: events },
  };
}

/** The event hash: SHA-256 of the pre-hash string, as a named-information URI. */
export function epcisEventHash(event: EpcisEvent): string {
  const digest = createHash("sha256").update(epcisPreHash(event), "utf8").digest("hex");
  return `ni:///sha-256;${digest}?ver=CBV2.0`;
}

/**
 * The pre-hash string (the event hash algorithm's canonical form) of an event made above: its
 * fields in the algorithm's order as key=value, a list's entries sorted, and the fields outside
 * the standard (ours) last, sorted, under their expanded namespace; the values canonized as the
 * algorithm canonizes them (numbers as Python prints a float, times in UTC to the millisecond,
 * CBV terms as their web vocabulary).
 */
export function epcisPreHash(event: EpcisEvent): string {
  const [element] = event.sensorElementList;
  const metadata = `sensorMetadatatime=${utcMillis(element.sensorMetadata.time)}deviceID=${canonical(element.sensorMetadata.deviceID)}`;
  const reports = element.sensorReport
    .map(
      (r) =>
        `sensorReporttype=${canonical(r.type)}` +
        (r.chemicalSubstance !== undefined
          ? `chemicalSubstance=${canonical(r.chemicalSubstance)}`
          : "") +
        `value=${canonical(r.value)}uom=${canonical(r.uom)}`,
    )
    .sort(byCodePoint);
  const extensions = Object.entries(event)
    .filter(([key]) => key.startsWith("reefer:"))
    .map(
      ([key, value]) =>
        `{${REEFER_NAMESPACE}}${key.slice("reefer:".length)}=${canonical(value as string | number | boolean)}`,
    )
    .sort(byCodePoint);
  return [
    "eventType=ObjectEvent",
    `eventTime=${utcMillis(event.eventTime)}`,
    `eventTimeZoneOffset=${event.eventTimeZoneOffset}`,
    `epcListepc=${canonical(event.epcList[0])}`,
    "action=OBSERVE",
    "bizStep=https://ref.gs1.org/cbv/BizStep-sensor_reporting",
    `readPointid=${canonical(event.readPoint.id)}`,
    `sensorElementListsensorElement${metadata}${reports.join("")}`,
    extensions.join(""),
  ].join("");
}

/** Python's sort of str: by code point (JS's default sort compares UTF-16 units). */
function byCodePoint(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(j) ?? 0;
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length - i - (b.length - j);
}

function utcMillis(time: string): string {
  return new Date(time).toISOString();
}

/** Python's float(): an optional sign, digits with single underscores between, a fraction, an exponent. */
const PYTHON_FLOAT =
  /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;

/**
 * A value as the algorithm writes it: a boolean as Python prints it; a number, or a string that
 * Python's float() reads, as Python prints that float (an integral one without ".0"). Strings
 * that are neither pass as they are: the ids made here are not GS1 keys, so the algorithm's
 * Digital Link rewrite leaves them alone (the cross-check in the tests would see otherwise).
 */
function canonical(value: string | number | boolean): string {
  if (typeof value === "boolean") return value ? "True" : "False";
  let number: number;
  if (typeof value === "number") number = value;
  else {
    const text = value.trim();
    if (!PYTHON_FLOAT.test(text)) return value.trim();
    number = Number(text.replaceAll("_", ""));
  }
  if (!Number.isFinite(number)) return String(value);
  return pythonFloat(number);
}

/** How Python's str() prints a float, after the algorithm turned an integral one into an int. */
function pythonFloat(x: number): string {
  if (Number.isInteger(x)) return BigInt(x).toString();
  const abs = Math.abs(x);
  // Both print the shortest digits that read back the same; they differ in when and how they
  // use an exponent: Python below 1e-4 (and from 1e16, always integral here), as e-05.
  if (abs >= 1e-4) return String(x);
  const [mantissa, exponent] = x.toExponential().split("e");
  const power = Number(exponent);
  return `${mantissa}e${power < 0 ? "-" : "+"}${String(Math.abs(power)).padStart(2, "0")}`;
}
