package reefer.analytics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;

/**
 * The deployed SQL in a local Flink mini cluster, over the streams the edge's agreement test
 * draws (test/support/window-streams.ts writes them with the windows the edge raised for each):
 * the windows, counts, maxima and seq ranges Flink emits equal the edge's, stream for stream.
 * Half the streams are out of order within the lateness, half (one container each) carry
 * readings later than it, which both sides must leave out alike.
 * Only the source's connector options change (a bounded file of the same JSON instead of
 * Kinesis); the table's columns, event time, watermark and the query are the file's own.
 */
class FaultyReefersJobTest {
  private static final Path CASES = Path.of(System.getProperty("agreement.dir", "target/agreement"));

  @Test
  void splitsTheFileIntoItsStatements() throws IOException {
    List<String> statements = FaultyReefersJob.statements(FaultyReefersJob.sql());
    assertEquals(3, statements.size());
    assertTrue(statements.get(0).startsWith("CREATE TABLE telemetries"));
    assertTrue(statements.get(1).startsWith("CREATE TABLE faulty_reefers"));
    assertTrue(statements.get(2).startsWith("INSERT INTO faulty_reefers"));
  }

  @Test
  void plansTheDeployedJobWithTheKinesisConnector() throws IOException {
    // The Kinesis source and sink as deployed: the planner resolves their factories and options.
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    FaultyReefersJob.configure(env);
    List<String> statements =
        FaultyReefersJob.statements(FaultyReefersJob.sql().replace("${AWS_REGION}", "eu-west-1"));
    env.executeSql(statements.get(0));
    env.executeSql(statements.get(1));
    String plan = env.explainSql(statements.get(2));
    assertTrue(plan.contains("TableSourceScan(table=[[default_catalog, default_database, telemetries"));
    assertTrue(plan.contains("Sink(table=[default_catalog.default_database.faulty_reefers]"));
  }

  @Test
  void emitsTheEdgesWindowsForEveryGeneratedStream() throws Exception {
    List<Path> cases;
    try (Stream<Path> files = Files.list(CASES)) {
      cases = files.filter(p -> p.toString().endsWith(".readings.ndjson")).sorted().collect(Collectors.toList());
    }
    assertFalse(cases.isEmpty(), "no generated streams in " + CASES + ": run test/support/window-streams first");
    int windows = 0;
    for (Path readings : cases) {
      String name = readings.getFileName().toString().replace(".readings.ndjson", "");
      List<String> expected = Files.readAllLines(CASES.resolve(name + ".edge.ndjson"), StandardCharsets.UTF_8)
          .stream().filter(l -> !l.isBlank()).map(FaultyReefersJobTest::canonical).sorted()
          .collect(Collectors.toList());
      List<String> actual = runFlink(readings);
      assertEquals(expected, actual, "stream " + name);
      windows += actual.size();
    }
    assertTrue(windows > 0, "the generated streams raised no window at all");
  }

  /**
   * What the job must outlive (a record that is not JSON, one without a time, one whose time
   * does not parse, a gateway whose clock runs an hour ahead), mixed into streams the edge's
   * windows are known for: the job keeps running, and every other container's windows still
   * equal the edge's. Unbounded, the clock an hour ahead moves the one watermark an hour on and
   * the other containers' windows are lost as late; unguarded, a reading without a time fails
   * the job ("RowTime field should not be null").
   */
  @Test
  void keepsTheEdgesWindowsThroughRecordsThatAreNoReadings() throws Exception {
    Path dir = Files.createTempDirectory("bad-records");
    int windows = 0;
    // The four longest on-time streams: each gets every kind of bad record many times over.
    List<String> names;
    try (Stream<Path> files = Files.list(CASES)) {
      names = files.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".readings.ndjson") && !n.startsWith("late-"))
          .map(n -> n.replace(".readings.ndjson", ""))
          .sorted(Comparator.comparingLong((String n) -> lineCount(CASES.resolve(n + ".readings.ndjson"))).reversed())
          .limit(4)
          .collect(Collectors.toList());
    }
    for (String name : names) {
      List<String> good = Files.readAllLines(CASES.resolve(name + ".readings.ndjson"), StandardCharsets.UTF_8)
          .stream().filter(l -> !l.isBlank()).collect(Collectors.toList());
      List<String> mixed = new ArrayList<>();
      for (int i = 0; i < good.size(); i++) {
        String line = good.get(i);
        mixed.add(line);
        long arrival = arrivalOf(line);
        String at = Instant.ofEpochMilli(arrival).toString();
        String ahead = Instant.ofEpochMilli(arrival + 3_600_000L).toString();
        switch (i % 4) {
          case 0:
            // Gateway Z's clock is an hour ahead; its readings are over the threshold.
            mixed.add(reading("Z", ahead, i, arrival));
            break;
          case 1:
            mixed.add("{not json at all " + i);
            break;
          case 2:
            mixed.add("{\"container_id\":\"Y\",\"temperature\":30.5,\"seq\":" + i
                + ",\"arrival\":\"" + at + "\"}");
            break;
          default:
            mixed.add(reading("Y", "yesterday at noon " + at, i, arrival));
        }
      }
      Path file = dir.resolve(name + ".readings.ndjson");
      Files.write(file, mixed, StandardCharsets.UTF_8);
      List<String> expected = Files.readAllLines(CASES.resolve(name + ".edge.ndjson"), StandardCharsets.UTF_8)
          .stream().filter(l -> !l.isBlank()).map(FaultyReefersJobTest::canonical).sorted()
          .collect(Collectors.toList());
      List<String> actual = runFlink(file).stream()
          .filter(row -> !row.startsWith("Z,") && !row.startsWith("Y,"))
          .collect(Collectors.toList());
      assertEquals(expected, actual, "stream " + name + " with records that are no readings");
      windows += actual.size();
    }
    assertTrue(windows > 0, "the mixed streams raised no window at all");
  }

  private static long lineCount(Path file) {
    try (Stream<String> lines = Files.lines(file)) {
      return lines.count();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static final Pattern ARRIVAL = Pattern.compile("\"arrival\":\"([^\"]+)\"");

  private static long arrivalOf(String line) {
    Matcher m = ARRIVAL.matcher(line);
    if (!m.find()) throw new IllegalStateException("a generated reading without its arrival: " + line);
    return Instant.parse(m.group(1)).toEpochMilli();
  }

  private static String reading(String container, String time, int seq, long arrival) {
    return "{\"container_id\":\"" + container + "\",\"measurement_time\":\"" + time
        + "\",\"temperature\":30.5,\"seq\":" + seq + ",\"arrival\":\""
        + Instant.ofEpochMilli(arrival) + "\"}";
  }

  /** The job's query over a bounded file in place of the stream, its rows as canonical text. */
  private static List<String> runFlink(Path readings) throws Exception {
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    FaultyReefersJob.configure(env);
    env.getConfig().set("parallelism.default", "1");
    // A watermark after every reading that advances it (WatermarkAssignerOperator emits at once
    // when the interval is 0), not every 200 ms: with a bounded file read in milliseconds, the
    // periodic watermark would lag and let late readings in, by timing. Per reading is what a
    // steady stream converges to, and what makes the late streams deterministic.
    env.getConfig().set("pipeline.auto-watermark-interval", "0 ms");
    List<String> statements = FaultyReefersJob.statements(FaultyReefersJob.sql());
    // A file has no Kinesis arrival time: each generated line carries its own (`arrival`, when
    // it would have reached the stream, never before it was measured), read as a column.
    String metadata = "arrival TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL";
    assertTrue(statements.get(0).contains(metadata), "the source's arrival column changed");
    String source = statements.get(0)
        .replace(metadata, "arrival TIMESTAMP_LTZ(3)")
        .replaceFirst(
            "(?s)\\) WITH \\(.*\\)\\s*$",
            ") WITH ('connector' = 'filesystem', 'path' = '" + readings.toUri()
                + "', 'format' = 'json', 'json.ignore-parse-errors' = 'true',"
                + " 'json.timestamp-format.standard' = 'ISO-8601')");
    env.executeSql(source);
    String query = statements.get(2).replaceFirst("^INSERT INTO faulty_reefers\\s*", "");
    List<String> rows = new ArrayList<>();
    try (CloseableIterator<Row> it = env.executeSql(query).collect()) {
      while (it.hasNext()) {
        Row row = it.next();
        rows.add(String.join(",",
            String.valueOf(row.getField("container_id")),
            String.valueOf(millis((LocalDateTime) row.getField("window_start"))),
            String.valueOf(millis((LocalDateTime) row.getField("window_end"))),
            String.valueOf(row.getField("readings_over")),
            String.valueOf(row.getField("max_temperature")),
            String.valueOf(row.getField("first_seq")),
            String.valueOf(row.getField("last_seq"))));
      }
    }
    rows.sort(Comparator.naturalOrder());
    return rows;
  }

  private static long millis(LocalDateTime time) {
    return time.toInstant(ZoneOffset.UTC).toEpochMilli();
  }

  private static final Pattern FIELD = Pattern.compile("\"(\\w+)\":(\"[^\"]*\"|[-0-9.eE]+)");

  /** An edge window line ({"container_id":..,"window_start":ms,...}) in the same canonical text. */
  private static String canonical(String json) {
    java.util.Map<String, String> f = new java.util.HashMap<>();
    Matcher m = FIELD.matcher(json);
    while (m.find()) f.put(m.group(1), m.group(2).replace("\"", ""));
    return String.join(",", f.get("container_id"), f.get("window_start"), f.get("window_end"),
        f.get("readings_over"), String.valueOf(Double.parseDouble(f.get("max_temperature"))),
        f.get("first_seq"), f.get("last_seq"));
  }
}
