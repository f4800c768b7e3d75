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
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.bridge.java.StreamStatementSet;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  /** Each test's own files, removed after it. */
  @TempDir Path tmp;

  @Test
  void splitsTheFileIntoItsStatements() throws IOException {
    List<String> statements = FaultyReefersJob.statements(FaultyReefersJob.sql());
    assertEquals(4, statements.size());
    assertTrue(statements.get(0).startsWith("CREATE TABLE telemetries"));
    assertTrue(statements.get(1).startsWith("CREATE TABLE faulty_reefers"));
    assertTrue(statements.get(2).startsWith("CREATE VIEW readings"));
    assertTrue(statements.get(3).startsWith("INSERT INTO faulty_reefers"));
  }

  @Test
  void plansTheDeployedJobWithTheKinesisConnector() throws IOException {
    // The job as deployed, translated but not run: the Kinesis source, the per-container step and
    // the Kinesis sink are one pipeline, the planner having resolved the connectors' factories
    // and options.
    StreamExecutionEnvironment stream = StreamExecutionEnvironment.getExecutionEnvironment();
    StreamTableEnvironment env = StreamTableEnvironment.create(stream);
    FaultyReefersJob.configure(env);
    List<String> statements = new ArrayList<>();
    for (String statement : FaultyReefersJob.statements(FaultyReefersJob.sql()))
      statements.add(FaultyReefersJob.deployed(statement, deployedProperties()));
    for (String statement : statements) assertFalse(statement.contains("${"), statement);
    for (String ddl : statements.subList(0, 3)) env.executeSql(ddl);
    FaultyReefersJob.registerContainerWindows(env);
    StreamStatementSet set = env.createStatementSet();
    set.addInsertSql(statements.get(3));
    set.attachAsDataStream();
    String plan = stream.getExecutionPlan();
    int source = plan.indexOf("TableSourceScan(table=[[default_catalog, default_database, telemetries");
    int windows = plan.indexOf("windows per container");
    int sink = plan.indexOf("\"faulty_reefers[");
    assertTrue(source >= 0 && windows >= 0 && sink >= 0, plan);
    assertTrue(plan.contains("\"ship_strategy\" : \"HASH\""), "the windows are not keyed: " + plan);
  }

  /** What the Analytics stack sets on the application, for a stage named dev. */
  private static Properties deployedProperties() {
    Properties p = new Properties();
    p.setProperty("aws.region", "eu-west-1");
    p.setProperty("telemetries.stream", "dev-telemetries");
    p.setProperty("faulty-reefers.stream", "dev-faulty-reefers");
    p.setProperty("efo.consumer.name", "dev-reefer-faulty-reefers");
    p.setProperty(
        "efo.consumer.arn",
        "arn:aws:kinesis:eu-west-1:123456789012:stream/dev-telemetries/consumer/dev-reefer-faulty-reefers:1");
    return p;
  }

  @Test
  void readsTheStagesStreamsThroughItsFanOutConsumerAndNamesAMissingProperty() throws IOException {
    List<String> statements = FaultyReefersJob.statements(FaultyReefersJob.sql());
    String source = FaultyReefersJob.deployed(statements.get(0), deployedProperties());
    assertTrue(source.contains("'stream' = 'dev-telemetries'"), source);
    assertTrue(source.contains("'scan.stream.recordpublisher' = 'EFO'"), source);
    assertTrue(
        source.contains(
            "'scan.stream.efo.consumerarn.dev-telemetries' = 'arn:aws:kinesis:eu-west-1:123456789012:stream/dev-telemetries/consumer/dev-reefer-faulty-reefers:1'"),
        source);
    String sink = FaultyReefersJob.deployed(statements.get(1), deployedProperties());
    assertTrue(sink.contains("'stream' = 'dev-faulty-reefers'"), sink);
    Properties missing = deployedProperties();
    missing.remove("efo.consumer.arn");
    IllegalStateException error =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> FaultyReefersJob.deployed(statements.get(0), missing));
    assertEquals(
        "faulty-reefers.sql needs the runtime property FaultyReefers.efo.consumer.arn for ${EFO_CONSUMER_ARN}",
        error.getMessage());
  }

  @Test
  void emitsTheEdgesWindowsForEveryGeneratedStream() throws Exception {
    int windows = 0;
    int behindWindows = 0;
    for (Path readings : generated("")) {
      String name = nameOf(readings);
      List<String> actual = runFlink(readings);
      assertEquals(edgeWindows(name), actual, "stream " + name);
      windows += actual.size();
      if (name.startsWith("behind-")) behindWindows += actual.stream().filter(w -> w.startsWith("B,")).count();
    }
    assertTrue(windows > 0, "the generated streams raised no window at all");
    // The streams whose container B reaches the stream minutes behind A: B's windows are there,
    // as the edge raised them. One watermark for the shard, driven by A, would drop them as late.
    assertTrue(behindWindows > 0, "no behind- stream raised a window of the container behind");
  }

  /**
   * Scaled out: the windows per container are keyed state, so at two subtasks (the containers and
   * their watermarks spread over them by key, each subtask's timers on the watermark it receives)
   * the streams with one container behind the other still give the edge's windows.
   */
  @Test
  void keepsTheEdgesWindowsWhenScaledOut() throws Exception {
    int windows = 0;
    for (Path readings : generated("behind-")) {
      List<String> actual = runFlink(readings, 2);
      assertEquals(edgeWindows(nameOf(readings)), actual, "stream " + nameOf(readings) + " at parallelism 2");
      windows += actual.size();
    }
    assertTrue(windows > 0, "the behind- streams raised no window at all");
  }

  /** The generated streams' readings files whose names start with {@code prefix}, in name order. */
  private static List<Path> generated(String prefix) throws IOException {
    List<Path> cases;
    try (Stream<Path> files = Files.list(CASES)) {
      cases = files.filter(p -> nameOf(p).startsWith(prefix) && p.toString().endsWith(".readings.ndjson"))
          .sorted().collect(Collectors.toList());
    }
    assertFalse(cases.isEmpty(), "no generated streams " + prefix + "* in " + CASES
        + ": run test/support/window-streams first");
    return cases;
  }

  private static String nameOf(Path readings) {
    return readings.getFileName().toString().replace(".readings.ndjson", "");
  }

  /** The windows the edge raised for a generated stream, as canonical text in order. */
  private static List<String> edgeWindows(String name) throws IOException {
    return Files.readAllLines(CASES.resolve(name + ".edge.ndjson"), StandardCharsets.UTF_8)
        .stream().filter(l -> !l.isBlank()).map(FaultyReefersJobTest::canonical).sorted()
        .collect(Collectors.toList());
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
    Path dir = tmp.resolve("bad-records");
    Files.createDirectories(dir);
    int windows = 0;
    // The four longest on-time streams: each gets every kind of bad record many times over.
    List<String> names;
    try (Stream<Path> files = Files.list(CASES)) {
      names = files.map(p -> p.getFileName().toString())
          .filter(n -> n.matches("[0-9]+\\.readings\\.ndjson"))
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
      List<String> expected = edgeWindows(name);
      List<String> actual = runFlink(file).stream()
          .filter(row -> !row.startsWith("Z,") && !row.startsWith("Y,"))
          .collect(Collectors.toList());
      assertEquals(expected, actual, "stream " + name + " with records that are no readings");
      windows += actual.size();
    }
    assertTrue(windows > 0, "the mixed streams raised no window at all");
  }

  /**
   * A container that goes quiet still gets its window, once the shard's time is five minutes past
   * it: container Q has one reading over the threshold, then nothing while A reports for eight
   * minutes; a reading of Q for the same window that arrives after that is late, as it would be
   * at the edge (which closes the window on its wall clock). Were the window closed only by Q's
   * own watermark or at the end of the input, it would count both readings.
   */
  @Test
  void closesTheWindowsOfAContainerGoneQuiet() throws Exception {
    long t0 = Instant.parse("2026-11-25T12:00:00Z").toEpochMilli();
    List<String> lines = new ArrayList<>();
    lines.add(reading("Q", Instant.ofEpochMilli(t0 + 10_000).toString(), 1, t0 + 10_000));
    int seq = 0;
    for (long t = t0 + 20_000; t <= t0 + 8 * 60_000; t += 30_000) {
      lines.add(reading("A", Instant.ofEpochMilli(t).toString(), ++seq, t).replace("30.5", "2.5"));
    }
    lines.add(reading("Q", Instant.ofEpochMilli(t0 + 20_000).toString(), 2, t0 + 8 * 60_000));
    Path file = tmp.resolve("quiet.readings.ndjson");
    Files.write(file, lines, StandardCharsets.UTF_8);
    assertEquals(List.of("Q," + t0 + "," + (t0 + 60_000) + ",1,30.5,1,1"), runFlink(file));
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
    return runFlink(readings, 1);
  }

  /**
   * At {@code parallelism} subtasks for every operator: the one file is one split, read by one
   * source subtask (the others finish at once and hold no watermark back), and the windows are
   * spread over the subtasks by container.
   */
  private static List<String> runFlink(Path readings, int parallelism) throws Exception {
    StreamExecutionEnvironment stream = StreamExecutionEnvironment.getExecutionEnvironment();
    stream.setParallelism(parallelism);
    stream.getConfig().setAutoWatermarkInterval(0);
    StreamTableEnvironment env = StreamTableEnvironment.create(stream);
    FaultyReefersJob.configure(env);
    env.getConfig().set("parallelism.default", String.valueOf(parallelism));
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
    env.executeSql(statements.get(2));
    FaultyReefersJob.registerContainerWindows(env);
    String query = statements.get(3).replaceFirst("^INSERT INTO faulty_reefers\\s*", "");
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
