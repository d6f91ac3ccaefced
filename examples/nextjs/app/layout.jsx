export const metadata = { title: 'Airlock in Next.js' };

/** @param {{ children: import('react').ReactNode }} props */
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body style={{ font: '16px/1.5 system-ui, sans-serif', maxWidth: 720, margin: '40px auto', padding: '0 16px' }}>{children}</body>
    </html>
  );
}
