package io.nodemesh.agent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs a host command with a deadline and collects its output; no shell is involved, so no quoting issues. */
public final class Commands {

  private Commands() {}

  /** A finished command. */
  public record Result(int exitCode, String stdout, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /** Runs {@code argv}, feeding {@code stdin} (may be empty), killing it after {@code timeout}. */
  public static Result run(List<String> argv, String stdin, Duration timeout) throws IOException {
    Process process = new ProcessBuilder(argv).start();
    CompletableFuture<String> out = drain(process.getInputStream());
    CompletableFuture<String> err = drain(process.getErrorStream());
    try (OutputStream in = process.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      // the command exited without reading its input; its exit code tells what happened
    }
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        throw new IOException(argv.get(0) + " did not finish within " + timeout.toMillis() + " ms: " + argv);
      }
      return new Result(process.exitValue(), out.get(5, TimeUnit.SECONDS), err.get(5, TimeUnit.SECONDS));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      throw new IOException("interrupted while running " + argv, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("could not read the output of " + argv, e);
    }
  }

  /** Runs {@code argv} and fails with its stderr unless it exits 0. */
  public static String check(List<String> argv, String stdin, Duration timeout) throws IOException {
    Result result = run(argv, stdin, timeout);
    if (!result.ok()) {
      throw new IOException(String.join(" ", argv) + " exited " + result.exitCode() + ": " + result.stderr().strip());
    }
    return result.stdout();
  }

  private static CompletableFuture<String> drain(InputStream stream) {
    return CompletableFuture.supplyAsync(() -> {
      try (stream) {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        return "";
      }
    });
  }
}
