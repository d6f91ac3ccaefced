/** @type {import('next').NextConfig} */
const nextConfig = {
  // Airlock runs in Node as it is published (it opens SQLite through a native
  // module and reads the widget bundle from disk): do not bundle it.
  serverExternalPackages: ['@airlock/server', '@airlock/testing', 'better-sqlite3'],
};

export default nextConfig;
