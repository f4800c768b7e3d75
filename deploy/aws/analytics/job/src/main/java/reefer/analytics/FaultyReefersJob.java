package reefer.analytics;

import com.amazonaws.services.kinesisanalytics.runtime.KinesisAnalyticsRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

/**
 * Runs faulty-reefers.sql (packaged from deploy/aws/analytics/) as written: every CREATE at once,
 * every INSERT in one job. The SQL file is the job; this class only feeds it to Flink, so the
 * file a reviewer reads is the file that runs.
 */
public final class FaultyReefersJob {
  /** The application property group the Analytics stack sets (runtime properties). */
  static final String PROPERTY_GROUP = "FaultyReefers";

  /**
   * A quiet shard (no reefer on it reporting) must not hold the watermark back and with it every
   * window: after this long without records a source split is idle and ignored by the watermark.
   */
  static final String SOURCE_IDLE_TIMEOUT = "1 min";

  private FaultyReefersJob() {}

  public static void main(String[] args) throws Exception {
    TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
    configure(env);
    TableResult job = run(env, statements(sql().replace("${AWS_REGION}", region())));
    job.await();
  }

  static void configure(TableEnvironment env) {
    env.getConfig().set("table.exec.source.idle-timeout", SOURCE_IDLE_TIMEOUT);
    // The arrival time (TIMESTAMP_LTZ) becomes a bound on the UTC event time: cast in UTC,
    // whatever zone the machine that runs the job is in.
    env.getConfig().set("table.local-time-zone", "UTC");
  }

  /** Executes the DDL and submits the INSERTs together. */
  static TableResult run(TableEnvironment env, List<String> statements) {
    StatementSet inserts = env.createStatementSet();
    for (String statement : statements) {
      if (statement.toUpperCase(Locale.ROOT).startsWith("INSERT")) {
        inserts.addInsertSql(statement);
      } else {
        env.executeSql(statement);
      }
    }
    return inserts.execute();
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

  /** The region of the streams: the stack's runtime property, else the environment's. */
  static String region() throws IOException {
    Map<String, Properties> groups = KinesisAnalyticsRuntime.getApplicationProperties();
    Properties group = groups.get(PROPERTY_GROUP);
    String region = group == null ? null : group.getProperty("aws.region");
    if (region == null) region = System.getenv("AWS_REGION");
    if (region == null || region.isBlank()) {
      throw new IllegalStateException(
          "no region: set the runtime property " + PROPERTY_GROUP + ".aws.region (or AWS_REGION)");
    }
    return region;
  }
}
