package io.nodemesh.http;

import io.nodemesh.log.LogThrottle;
import io.nodemesh.log.SafeText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Static bearer tokens from a file, one per line (blank lines and lines starting with {@code #} are ignored).
 * Only SHA-256 digests are kept, and a presented token's digest is compared with every one of them in constant
 * time, so neither timing nor a heap dump gives a token away. The file is read again when it changes (a rotated
 * Secret): an emptied file revokes every token, a file that becomes unreadable keeps the tokens last read, and a
 * line that is not a valid token is skipped with a warning (at startup it is an error).
 */
public final class TokenFileAccess implements DebugAccess {

  /** Shorter tokens are refused at startup: they could be guessed. */
  public static final int MIN_TOKEN_CHARS = 16;

  private static final Logger log = LoggerFactory.getLogger(TokenFileAccess.class);

  private record Loaded(Object fileKey, long modifiedMillis, long size, List<byte[]> digests) {}

  private final Path file;
  private final LogThrottle reloadWarnings = new LogThrottle(60_000);
  private volatile Loaded loaded;

  /**
   * Reads the file once.
   *
   * @throws IllegalArgumentException if it cannot be read, lists no token, or lists one shorter than
   *     {@link #MIN_TOKEN_CHARS}
   */
  public TokenFileAccess(Path file) {
    this.file = file;
    try {
      this.loaded = load(true);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage());
    }
    if (loaded.digests().isEmpty()) {
      throw new IllegalArgumentException(file + " lists no token");
    }
  }

  @Override
  public CompletableFuture<Verdict> check(String authorizationHeader) {
    Optional<String> token = DebugAccess.bearerToken(authorizationHeader);
    if (token.isEmpty()) {
      return CompletableFuture.completedFuture(
          Verdict.refused(Outcome.UNAUTHENTICATED, "", "no bearer token (Authorization: Bearer <token>)"));
    }
    byte[] presented = sha256(token.get());
    boolean match = false;
    for (byte[] known : current().digests()) {
      match |= MessageDigest.isEqual(known, presented); // no early exit: every request costs the same
    }
    return CompletableFuture.completedFuture(match
        ? Verdict.allowed("static token")
        : Verdict.refused(Outcome.UNAUTHENTICATED, "", "unknown bearer token"));
  }

  @Override
  public String description() {
    return "token-file " + file;
  }

  private Loaded current() {
    Loaded last = loaded;
    try {
      BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
      if (attributes.lastModifiedTime().toMillis() != last.modifiedMillis() || attributes.size() != last.size()
          || !Objects.equals(attributes.fileKey(), last.fileKey())) {
        Loaded fresh = load(false);
        loaded = fresh;
        log.info("debug token file {} changed: {} token(s)", file, fresh.digests().size());
        return fresh;
      }
    } catch (IOException e) {
      long suppressed = reloadWarnings.admit();
      if (suppressed >= 0) {
        log.warn("debug token file {} could not be read again, keeping the {} token(s) read before: {}{}", file,
            last.digests().size(), SafeText.of(e.getMessage()), LogThrottle.suppressedNote(suppressed));
      }
    }
    return last;
  }

  private Loaded load(boolean strict) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    List<byte[]> digests = new ArrayList<>();
    int lineNumber = 0;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      lineNumber++;
      String token = line.strip();
      if (token.isEmpty() || token.startsWith("#")) {
        continue;
      }
      if (token.length() < MIN_TOKEN_CHARS || DebugAccess.bearerToken("Bearer " + token).isEmpty()) {
        String problem = file + " line " + lineNumber + ": a token must be at least " + MIN_TOKEN_CHARS
            + " printable characters without spaces";
        if (strict) {
          throw new IllegalArgumentException(problem);
        }
        log.warn("{}; the line is ignored", problem);
        continue;
      }
      digests.add(sha256(token));
    }
    return new Loaded(attributes.fileKey(), attributes.lastModifiedTime().toMillis(), attributes.size(),
        List.copyOf(digests));
  }

  static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
