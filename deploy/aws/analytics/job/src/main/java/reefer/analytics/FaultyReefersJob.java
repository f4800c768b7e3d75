package reefer.analytics;

import com.amazonaws.services.kinesisanalytics.runtime.KinesisAnalyticsRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;

/**
 * Runs faulty-reefers.sql (packaged from deploy/aws/analytics/) as written: every CREATE at once,
 * every INSERT in one job. The SQL file is the job, read as it runs, except for the one step SQL
 * cannot express: windows closed by each container's own watermark ({@link ContainerWindows}),
 * registered here as the view {@code container_windows} between the file's view of the readings
 * and its INSERT.
 */
public final class FaultyReefersJob {
  /** The application property group the Analytics stack sets (runtime properties). */
  static final String PROPERTY_GROUP = "FaultyReefers";

  /**
   * A quiet shard (no reefer on it reporting) must not hold the watermark back and with it every
   * window: after this long without records a source split is idle and ignored by the watermark.
   */
  static final String SOURCE_IDLE_TIMEOUT = "1 min";

  /**
   * How far the shard's time (its watermark) runs past a window before the window closes without
   * its container: long enough for a container minutes behind its shard (a slow link) to close its
   * windows itself, short enough that a container gone quiet still has its alert within minutes.
   */
  static final Duration QUIET_CONTAINER = Duration.ofMinutes(5);

  private FaultyReefersJob() {}

  /**
   * The SQL file's placeholders, each with the runtime property (group {@value #PROPERTY_GROUP})
   * that fills it; the Analytics stack sets them all. With a stage, the stream names carry its
   * prefix, so the file names no stream itself.
   */
  static final Map<String, String> PLACEHOLDERS =
      Map.of(
          "AWS_REGION", "aws.region",
          "TELEMETRIES_STREAM", "telemetries.stream",
          "FAULTY_REEFERS_STREAM", "faulty-reefers.stream",
          "EFO_CONSUMER_NAME", "efo.consumer.name",
          "EFO_CONSUMER_ARN", "efo.consumer.arn");

  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([A-Za-z_]+)\\}");

  public static void main(String[] args) throws Exception {
    StreamTableEnvironment env =
        StreamTableEnvironment.create(StreamExecutionEnvironment.getExecutionEnvironment());
    configure(env);
    Properties group = KinesisAnalyticsRuntime.getApplicationProperties().get(PROPERTY_GROUP);
    Properties properties = group == null ? new Properties() : group;
    List<String> deployed = new ArrayList<>();
    for (String statement : statements(sql())) deployed.add(deployed(statement, properties));
    TableResult job = run(env, deployed);
    job.await();
  }

  /**
   * A statement with each {@code ${NAME}} filled from its runtime property (the region also from
   * AWS_REGION). A placeholder with no value stops the job before it starts, naming the property.
   */
  static String deployed(String statement, Properties properties) {
    Matcher m = PLACEHOLDER.matcher(statement);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String property = PLACEHOLDERS.get(m.group(1));
      if (property == null) {
        throw new IllegalStateException("faulty-reefers.sql: unknown placeholder ${" + m.group(1) + "}");
      }
      String value = properties.getProperty(property);
      if ((value == null || value.isBlank()) && property.equals("aws.region")) {
        value = System.getenv("AWS_REGION");
      }
      if (value == null || value.isBlank()) {
        throw new IllegalStateException(
            "faulty-reefers.sql needs the runtime property " + PROPERTY_GROUP + "." + property
                + " for ${" + m.group(1) + "}");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }

  static void configure(StreamTableEnvironment env) {
    env.getConfig().set("table.exec.source.idle-timeout", SOURCE_IDLE_TIMEOUT);
    // The arrival time (TIMESTAMP_LTZ) becomes a bound on the UTC event time: cast in UTC,
    // whatever zone the machine that runs the job is in.
    env.getConfig().set("table.local-time-zone", "UTC");
  }

  /** Executes the DDL, registers the per-container windows, and submits the INSERTs together. */
  static TableResult run(StreamTableEnvironment env, List<String> statements) {
    List<String> inserts = new ArrayList<>();
    for (String statement : statements) {
      if (statement.toUpperCase(Locale.ROOT).startsWith("INSERT")) {
        inserts.add(statement);
      } else {
        env.executeSql(statement);
      }
    }
    registerContainerWindows(env);
    StatementSet set = env.createStatementSet();
    inserts.forEach(set::addInsertSql);
    return set.execute();
  }

  /**
   * The view {@code container_windows}: the file's view {@code readings}, keyed by container,
   * through {@link ContainerWindows}. Keyed, the step scales out with the application's
   * parallelism; each container's readings stay in order on one subtask.
   */
  static void registerContainerWindows(StreamTableEnvironment env) {
    DataStream<Row> windows =
        env.toDataStream(env.from("readings"))
            .keyBy(reading -> reading.<String>getFieldAs("container_id"))
            .process(new ContainerWindows(QUIET_CONTAINER.toMillis()))
            .returns(ContainerWindows.OUTPUT)
            // A stable id: the windows' state survives a redeployment from a snapshot.
            .uid("container-windows")
            .name("windows per container");
    env.createTemporaryView("container_windows", windows);
  }

  /** The packaged SQL file. */
  static String sql() throws IOException {
    try (InputStream in = FaultyReefersJob.class.getResourceAsStream("/faulty-reefers.sql")) {
      if (in == null) throw new IOException("faulty-reefers.sql is not in the application jar");
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** The file's statements: comment lines dropped, split at a semicolon that ends a line. */
  static List<String> statements(String sql) {
    StringBuilder text = new StringBuilder();
    for (String line : sql.split("\n")) {
      if (!line.strip().startsWith("--")) text.append(line).append('\n');
    }
    List<String> statements = new ArrayList<>();
    for (String statement : text.toString().split(";\\s*\n")) {
      String trimmed = statement.strip();
      if (trimmed.endsWith(";")) trimmed = trimmed.substring(0, trimmed.length() - 1);
      if (!trimmed.isEmpty()) statements.add(trimmed);
    }
    return statements;
  }
}
