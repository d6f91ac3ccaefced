import { headers } from 'next/headers';
import { exampleWidget } from '../lib/airlock.js';

export const dynamic = 'force-dynamic';

export default async function Page() {
  const incoming = await headers();
  const origin = `${incoming.get('x-forwarded-proto') ?? 'http'}://${incoming.get('host')}`;
  const widget = await exampleWidget(origin);
  return (
    <main>
      <h1>Airlock in Next.js</h1>
      <p>The chat is an Airlock widget embedded with one script tag. The page holds only a short-lived token.</p>
      <div id="chat" style={{ height: 480 }} />
      <script src="/airlock/widget.js" data-widget-id={widget.id} data-target="#chat" async />
    </main>
  );
}
