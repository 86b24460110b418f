// The Content-Security-Policy of the studio's pages, the same in web mode and in the desktop window:
// scripts and styles only from the studio itself (no inline code, no eval), images from the studio,
// data: URLs (step previews) and blob: (canvas overlays), connections only back to the studio.
export function contentSecurityPolicy(imageSources: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob: ${imageSources.join(' ')}`.trim(),
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
