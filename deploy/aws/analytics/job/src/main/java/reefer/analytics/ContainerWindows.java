package reefer.analytics;

import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * The windows of one container, closed by that container's own watermark, as the edge closes
 * them: a window fires when the newest reading of its container, less the allowed lateness,
 * reaches the window's last millisecond, and a reading for a fired window is late.
 *
 * <p>Why not Flink's windows: Flink SQL (and the DataStream window operator) fire on the
 * operator's one watermark, the minimum over its source splits, each driven by the newest reading
 * of any container on that Kinesis shard. A container whose readings reach the shard more than the
 * lateness behind the others (a slow link, a gateway that buffered) then loses them as late, and
 * the cloud's windows differ from the edge's. No built-in operator keeps a watermark per key, so
 * this one does, in keyed state (checkpointed, exactly once, as the windows were before).
 *
 * <p>The input is the SQL file's {@code readings} view: per reading its container, window bounds,
 * the watermark it allows its container ({@code container_watermark}, its time less the lateness),
 * whether it is over its product's threshold, its temperature and seq. The output is one row per
 * window with readings over the threshold, the columns of the sink.
 *
 * <p>A container that goes quiet (unplugged, out of coverage) moves no watermark of its own. Its
 * windows still close once the operator's watermark, the shard's time, is {@link #quietMs} past
 * their end: the edge closes them on its wall clock then too, and at the end of a bounded input
 * (a test) every window closes. A container more than that behind its shard loses its readings
 * past that point as late; its gateway's own alert for the window is the complete one.
 */
final class ContainerWindows extends KeyedProcessFunction<String, Row, Row> {
  private static final long serialVersionUID = 1L;

  /** The output rows: the sink's columns before the SQL adds {@code source}. */
  static final TypeInformation<Row> OUTPUT =
      Types.ROW_NAMED(
          new String[] {
            "container_id", "window_start", "window_end", "readings_over", "max_temperature",
            "first_seq", "last_seq"
          },
          Types.STRING, Types.LOCAL_DATE_TIME, Types.LOCAL_DATE_TIME, Types.LONG, Types.DOUBLE,
          Types.LONG, Types.LONG);

  /** One open window's tally (a Flink POJO: public fields, a public no-argument constructor). */
  public static final class Tally {
    public long start;
    public long end;
    public long readingsOver;
    public double maxTemperature;
    public Long firstSeq;
    public Long lastSeq;

    public Tally() {}
  }

  private final long quietMs;
  private transient ValueState<Long> watermark;
  private transient MapState<Long, Tally> open;
  /**
   * The end of the earliest open window, null when none is open: nearly every reading moves the
   * container's watermark and closes nothing, and this spares it a walk of the open windows (a
   * prefix scan under RocksDB, Managed Flink's state backend).
   */
  private transient ValueState<Long> firstEnd;
  private transient Counter late;
  private transient Counter closedQuiet;

  /** @param quietMs how far the shard's time runs past a window before it closes without its container */
  ContainerWindows(long quietMs) {
    this.quietMs = quietMs;
  }

  @Override
  public void open(OpenContext context) {
    watermark = getRuntimeContext().getState(new ValueStateDescriptor<>("container-watermark", Types.LONG));
    open =
        getRuntimeContext()
            .getMapState(new MapStateDescriptor<>("open-windows", Types.LONG, Types.POJO(Tally.class)));
    firstEnd = getRuntimeContext().getState(new ValueStateDescriptor<>("first-open-end", Types.LONG));
    late = getRuntimeContext().getMetricGroup().counter("lateReadings");
    closedQuiet = getRuntimeContext().getMetricGroup().counter("windowsClosedQuiet");
  }

  @Override
  public void processElement(Row reading, Context ctx, Collector<Row> out) throws Exception {
    long start = millis(reading.getFieldAs("window_start"));
    long end = millis(reading.getFieldAs("window_end"));
    long allowed = millis(reading.getFieldAs("container_watermark"));
    Long current = watermark.value();
    long containerWatermark = current == null ? Long.MIN_VALUE : current;
    if (isFired(end, Math.max(containerWatermark, quietBound(ctx.timerService().currentWatermark())))) {
      late.inc();
      return;
    }
    if (Boolean.TRUE.equals(reading.getFieldAs("over_threshold"))) {
      add(start, end, reading.getFieldAs("temperature"), reading.getFieldAs("seq"), ctx);
    }
    if (allowed > containerWatermark) {
      watermark.update(allowed);
      close(ctx.getCurrentKey(), allowed, out);
    }
  }

  @Override
  public void onTimer(long timestamp, OnTimerContext ctx, Collector<Row> out) throws Exception {
    // Windows its own watermark closed already are gone: a timer of theirs closes nothing.
    closedQuiet.inc(close(ctx.getCurrentKey(), quietBound(ctx.timerService().currentWatermark()), out));
  }

  private void add(long start, long end, Double temperature, Long seq, Context ctx) throws Exception {
    Tally tally = open.get(start);
    if (tally == null) {
      tally = new Tally();
      tally.start = start;
      tally.end = end;
      tally.maxTemperature = Double.NEGATIVE_INFINITY;
      Long first = firstEnd.value();
      if (first == null || end < first) firstEnd.update(end);
      // Closes the window without its container once the shard's time is quietMs past it.
      ctx.timerService().registerEventTimeTimer(end - 1 + quietMs);
    }
    tally.readingsOver++;
    tally.maxTemperature = Math.max(tally.maxTemperature, temperature);
    if (seq != null) {
      tally.firstSeq = tally.firstSeq == null ? seq : Math.min(tally.firstSeq, seq);
      tally.lastSeq = tally.lastSeq == null ? seq : Math.max(tally.lastSeq, seq);
    }
    open.put(start, tally);
  }

  /** Emits and forgets the windows fired at {@code until}, oldest first; returns how many. */
  private int close(String container, long until, Collector<Row> out) throws Exception {
    Long first = firstEnd.value();
    if (first == null || !isFired(first, until)) return 0;
    List<Tally> fired = new ArrayList<>();
    Long stillOpen = null;
    for (Iterator<Map.Entry<Long, Tally>> it = open.iterator(); it.hasNext(); ) {
      Tally tally = it.next().getValue();
      if (isFired(tally.end, until)) {
        fired.add(tally);
        it.remove();
      } else if (stillOpen == null || tally.end < stillOpen) {
        stillOpen = tally.end;
      }
    }
    if (stillOpen == null) firstEnd.clear();
    else firstEnd.update(stillOpen);
    fired.sort(Comparator.comparingLong(t -> t.start));
    for (Tally t : fired) {
      out.collect(
          Row.of(container, time(t.start), time(t.end), t.readingsOver, t.maxTemperature, t.firstSeq, t.lastSeq));
    }
    return fired.size();
  }

  /** The shard's time less quietMs: windows ending before it close without their container. */
  private long quietBound(long operatorWatermark) {
    return operatorWatermark == Long.MIN_VALUE ? Long.MIN_VALUE : operatorWatermark - quietMs;
  }

  /**
   * Flink's rule (TimeWindowUtil.isWindowFired), as the edge applies it: a window ending
   * (exclusive) at {@code end} has fired once the watermark reaches its last millisecond.
   */
  static boolean isFired(long end, long watermark) {
    return end - 1 <= watermark;
  }

  /** The view's TIMESTAMP(3) columns are UTC wall times (measurement_time is always UTC). */
  private static long millis(LocalDateTime time) {
    return time.toInstant(ZoneOffset.UTC).toEpochMilli();
  }

  private static LocalDateTime time(long millis) {
    return LocalDateTime.ofEpochSecond(
        Math.floorDiv(millis, 1000), (int) Math.floorMod(millis, 1000) * 1_000_000, ZoneOffset.UTC);
  }
}
