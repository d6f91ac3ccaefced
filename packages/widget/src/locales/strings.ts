import type { ErrorCode } from '@airlock/protocol';

/**
 * Every word the widget shows or announces. Override any of them with the
 * `strings` option; the rest come from the chosen locale.
 *
 * @example
 * ```ts
 * const strings: Partial<WidgetStrings> = { send: 'Ask', clear: 'Start over' };
 * ```
 */
export interface WidgetStrings {
  /** Title until the widget's own title arrives. */
  title: string;
  /** Launcher button label while closed. */
  open: string;
  /** Close button label (launcher mode). */
  close: string;
  /** Label of the message box. */
  message: string;
  send: string;
  stop: string;
  retry: string;
  copy: string;
  /** Shown on the copy button for a moment after copying. */
  copied: string;
  clear: string;
  /** Label of the suggested prompts. */
  suggestions: string;
  /** Submit button of completion and image widgets. */
  generate: string;
  /** Label of an image widget's prompt box. */
  prompt: string;
  /** Progress label while an image or completion is made. */
  generating: string;
  download: string;
  /** Label of a completion widget's result. */
  result: string;
  /** Errors, in plain words: the widget is not usable here (`origin_not_allowed`, `widget_not_found`, `widget_disabled`). */
  errorUnavailable: string;
  /** `rate_limited`, `upstream_rate_limited`. */
  errorTryLater: string;
  /** `quota_exhausted`, `upstream_quota_exhausted`. */
  errorLimit: string;
  /** `prompt_blocked`. */
  errorBlocked: string;
  /** `input_invalid`. */
  errorInvalid: string;
  /** `payload_too_large`. */
  errorTooLong: string;
  /** `upstream_unavailable` (also: the Airlock server cannot be reached). */
  errorNetwork: string;
  /** `upstream_timeout`. */
  errorTimeout: string;
  /** Any other code. */
  errorGeneric: string;
  /** Label of the button that dismisses the proactive greeting. */
  dismiss: string;
  /** `sign_in_required`: a private widget's `getToken` found no signed-in visitor. */
  errorSignIn: string;
  /** Label of the passages an answer was given, under it: "Sources (3)". */
  sources: string;
}

const keys: (keyof WidgetStrings)[] = [
  'title',
  'open',
  'close',
  'message',
  'send',
  'stop',
  'retry',
  'copy',
  'copied',
  'clear',
  'suggestions',
  'generate',
  'prompt',
  'generating',
  'download',
  'result',
  'errorUnavailable',
  'errorTryLater',
  'errorLimit',
  'errorBlocked',
  'errorInvalid',
  'errorTooLong',
  'errorNetwork',
  'errorTimeout',
  'errorGeneric',
  'dismiss',
  'errorSignIn',
  'sources',
];

// One `|`-separated line per locale, in the order of `keys`: compact, and it
// compresses well. Every locale ships in the bundle (about 5 KB gzip for all).
const locales: Record<string, string> = {
  en: 'Chat|Open chat|Close chat|Message|Send|Stop|Try again|Copy|Copied|Clear conversation|Suggestions|Generate|Describe the image|Generating…|Download|Result|This chat is not available on this page.|Too many messages right now. Please wait a moment and try again.|This chat has reached its usage limit. Please try again later.|That message cannot be sent. Please rephrase it.|That message cannot be sent. Please change it and try again.|That message is too long. Please shorten it.|The chat cannot be reached right now. Please try again.|The reply took too long. Please try again.|Something went wrong. Please try again.|Dismiss|Please sign in to chat.|Sources',
  es: 'Chat|Abrir chat|Cerrar chat|Mensaje|Enviar|Detener|Reintentar|Copiar|Copiado|Borrar conversación|Sugerencias|Generar|Describe la imagen|Generando…|Descargar|Resultado|Este chat no está disponible en esta página.|Demasiados mensajes ahora mismo. Espera un momento y vuelve a intentarlo.|Este chat ha alcanzado su límite de uso. Inténtalo más tarde.|Ese mensaje no se puede enviar. Reformúlalo, por favor.|Ese mensaje no se puede enviar. Cámbialo e inténtalo de nuevo.|Ese mensaje es demasiado largo. Acórtalo, por favor.|No se puede conectar con el chat ahora mismo. Inténtalo de nuevo.|La respuesta tardó demasiado. Inténtalo de nuevo.|Algo salió mal. Inténtalo de nuevo.|Descartar|Inicia sesión para chatear.|Fuentes',
  fr: 'Chat|Ouvrir le chat|Fermer le chat|Message|Envoyer|Arrêter|Réessayer|Copier|Copié|Effacer la conversation|Suggestions|Générer|Décrivez l’image|Génération…|Télécharger|Résultat|Ce chat n’est pas disponible sur cette page.|Trop de messages pour le moment. Patientez un instant puis réessayez.|Ce chat a atteint sa limite d’utilisation. Réessayez plus tard.|Ce message ne peut pas être envoyé. Reformulez-le.|Ce message ne peut pas être envoyé. Modifiez-le puis réessayez.|Ce message est trop long. Raccourcissez-le.|Le chat est injoignable pour le moment. Réessayez.|La réponse a pris trop de temps. Réessayez.|Une erreur s’est produite. Réessayez.|Ignorer|Connectez-vous pour discuter.|Sources',
  de: 'Chat|Chat öffnen|Chat schließen|Nachricht|Senden|Stopp|Erneut versuchen|Kopieren|Kopiert|Unterhaltung löschen|Vorschläge|Erstellen|Beschreiben Sie das Bild|Wird erstellt…|Herunterladen|Ergebnis|Dieser Chat ist auf dieser Seite nicht verfügbar.|Gerade zu viele Nachrichten. Bitte warten Sie kurz und versuchen Sie es erneut.|Dieser Chat hat sein Nutzungslimit erreicht. Bitte versuchen Sie es später erneut.|Diese Nachricht kann nicht gesendet werden. Bitte formulieren Sie sie um.|Diese Nachricht kann nicht gesendet werden. Bitte ändern Sie sie und versuchen Sie es erneut.|Diese Nachricht ist zu lang. Bitte kürzen Sie sie.|Der Chat ist gerade nicht erreichbar. Bitte versuchen Sie es erneut.|Die Antwort hat zu lange gedauert. Bitte versuchen Sie es erneut.|Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.|Ausblenden|Bitte melden Sie sich an, um zu chatten.|Quellen',
  it: 'Chat|Apri la chat|Chiudi la chat|Messaggio|Invia|Interrompi|Riprova|Copia|Copiato|Cancella conversazione|Suggerimenti|Genera|Descrivi l’immagine|Generazione…|Scarica|Risultato|Questa chat non è disponibile su questa pagina.|Troppi messaggi in questo momento. Attendi un attimo e riprova.|Questa chat ha raggiunto il limite di utilizzo. Riprova più tardi.|Questo messaggio non può essere inviato. Riformulalo.|Questo messaggio non può essere inviato. Modificalo e riprova.|Questo messaggio è troppo lungo. Accorcialo.|La chat non è raggiungibile in questo momento. Riprova.|La risposta ha impiegato troppo tempo. Riprova.|Qualcosa è andato storto. Riprova.|Ignora|Accedi per usare la chat.|Fonti',
  pt: 'Chat|Abrir chat|Fechar chat|Mensagem|Enviar|Parar|Tentar novamente|Copiar|Copiado|Limpar conversa|Sugestões|Gerar|Descreva a imagem|Gerando…|Baixar|Resultado|Este chat não está disponível nesta página.|Muitas mensagens agora. Aguarde um momento e tente novamente.|Este chat atingiu o limite de uso. Tente mais tarde.|Essa mensagem não pode ser enviada. Reformule-a.|Essa mensagem não pode ser enviada. Altere-a e tente novamente.|Essa mensagem é longa demais. Encurte-a.|Não é possível acessar o chat agora. Tente novamente.|A resposta demorou demais. Tente novamente.|Algo deu errado. Tente novamente.|Dispensar|Entre na sua conta para conversar.|Fontes',
  nl: 'Chat|Chat openen|Chat sluiten|Bericht|Versturen|Stoppen|Opnieuw proberen|Kopiëren|Gekopieerd|Gesprek wissen|Suggesties|Genereren|Beschrijf de afbeelding|Bezig met genereren…|Downloaden|Resultaat|Deze chat is niet beschikbaar op deze pagina.|Te veel berichten op dit moment. Wacht even en probeer het opnieuw.|Deze chat heeft zijn gebruikslimiet bereikt. Probeer het later opnieuw.|Dit bericht kan niet worden verstuurd. Formuleer het anders.|Dit bericht kan niet worden verstuurd. Pas het aan en probeer het opnieuw.|Dit bericht is te lang. Maak het korter.|De chat is nu niet bereikbaar. Probeer het opnieuw.|Het antwoord duurde te lang. Probeer het opnieuw.|Er ging iets mis. Probeer het opnieuw.|Sluiten|Log in om te chatten.|Bronnen',
  pl: 'Czat|Otwórz czat|Zamknij czat|Wiadomość|Wyślij|Zatrzymaj|Spróbuj ponownie|Kopiuj|Skopiowano|Wyczyść rozmowę|Sugestie|Generuj|Opisz obraz|Generowanie…|Pobierz|Wynik|Ten czat nie jest dostępny na tej stronie.|Zbyt wiele wiadomości. Poczekaj chwilę i spróbuj ponownie.|Ten czat osiągnął limit użycia. Spróbuj później.|Tej wiadomości nie można wysłać. Sformułuj ją inaczej.|Tej wiadomości nie można wysłać. Zmień ją i spróbuj ponownie.|Ta wiadomość jest za długa. Skróć ją.|Nie można teraz połączyć się z czatem. Spróbuj ponownie.|Odpowiedź trwała zbyt długo. Spróbuj ponownie.|Coś poszło nie tak. Spróbuj ponownie.|Odrzuć|Zaloguj się, aby czatować.|Źródła',
  tr: 'Sohbet|Sohbeti aç|Sohbeti kapat|Mesaj|Gönder|Durdur|Tekrar dene|Kopyala|Kopyalandı|Sohbeti temizle|Öneriler|Oluştur|Görseli tarif edin|Oluşturuluyor…|İndir|Sonuç|Bu sohbet bu sayfada kullanılamıyor.|Şu anda çok fazla mesaj var. Lütfen biraz bekleyip tekrar deneyin.|Bu sohbet kullanım sınırına ulaştı. Lütfen daha sonra tekrar deneyin.|Bu mesaj gönderilemiyor. Lütfen farklı ifade edin.|Bu mesaj gönderilemiyor. Lütfen değiştirip tekrar deneyin.|Bu mesaj çok uzun. Lütfen kısaltın.|Sohbete şu anda ulaşılamıyor. Lütfen tekrar deneyin.|Yanıt çok uzun sürdü. Lütfen tekrar deneyin.|Bir şeyler ters gitti. Lütfen tekrar deneyin.|Kapat|Sohbet etmek için lütfen giriş yapın.|Kaynaklar',
  ru: 'Чат|Открыть чат|Закрыть чат|Сообщение|Отправить|Остановить|Повторить|Копировать|Скопировано|Очистить разговор|Подсказки|Создать|Опишите изображение|Создаётся…|Скачать|Результат|Этот чат недоступен на этой странице.|Слишком много сообщений. Подождите немного и попробуйте снова.|Чат исчерпал лимит использования. Попробуйте позже.|Это сообщение нельзя отправить. Переформулируйте его.|Это сообщение нельзя отправить. Измените его и попробуйте снова.|Сообщение слишком длинное. Сократите его.|Чат сейчас недоступен. Попробуйте снова.|Ответ занял слишком много времени. Попробуйте снова.|Что-то пошло не так. Попробуйте снова.|Скрыть|Войдите, чтобы пользоваться чатом.|Источники',
  ja: 'チャット|チャットを開く|チャットを閉じる|メッセージ|送信|停止|再試行|コピー|コピーしました|会話を消去|候補|生成|画像の説明を入力|生成中…|ダウンロード|結果|このチャットはこのページでは利用できません。|メッセージが多すぎます。しばらく待ってからもう一度お試しください。|このチャットは利用上限に達しました。後でもう一度お試しください。|このメッセージは送信できません。言い換えてください。|このメッセージは送信できません。変更してもう一度お試しください。|メッセージが長すぎます。短くしてください。|現在チャットに接続できません。もう一度お試しください。|応答に時間がかかりすぎました。もう一度お試しください。|問題が発生しました。もう一度お試しください。|閉じる|チャットするにはサインインしてください。|出典',
  zh: '聊天|打开聊天|关闭聊天|消息|发送|停止|重试|复制|已复制|清除对话|建议|生成|描述图片|正在生成…|下载|结果|此聊天在本页面不可用。|当前消息过多，请稍后再试。|此聊天已达到使用上限，请稍后再试。|无法发送此消息，请换一种说法。|无法发送此消息，请修改后重试。|消息过长，请缩短。|暂时无法连接聊天，请重试。|回复时间过长，请重试。|出了点问题，请重试。|关闭|请登录后再聊天。|来源',
  ko: '채팅|채팅 열기|채팅 닫기|메시지|보내기|중지|다시 시도|복사|복사됨|대화 지우기|추천 질문|생성|이미지를 설명하세요|생성 중…|다운로드|결과|이 채팅은 이 페이지에서 사용할 수 없습니다.|메시지가 너무 많습니다. 잠시 후 다시 시도하세요.|이 채팅의 사용 한도에 도달했습니다. 나중에 다시 시도하세요.|이 메시지는 보낼 수 없습니다. 다르게 표현해 주세요.|이 메시지는 보낼 수 없습니다. 수정 후 다시 시도하세요.|메시지가 너무 깁니다. 줄여 주세요.|지금은 채팅에 연결할 수 없습니다. 다시 시도하세요.|응답 시간이 너무 오래 걸렸습니다. 다시 시도하세요.|문제가 발생했습니다. 다시 시도하세요.|닫기|채팅하려면 로그인하세요.|출처',
  ar: 'دردشة|فتح الدردشة|إغلاق الدردشة|رسالة|إرسال|إيقاف|إعادة المحاولة|نسخ|تم النسخ|مسح المحادثة|اقتراحات|إنشاء|صف الصورة|جارٍ الإنشاء…|تنزيل|النتيجة|هذه الدردشة غير متاحة في هذه الصفحة.|رسائل كثيرة جدًا الآن. يرجى الانتظار قليلًا والمحاولة مجددًا.|بلغت هذه الدردشة حد الاستخدام. يرجى المحاولة لاحقًا.|لا يمكن إرسال هذه الرسالة. يرجى إعادة صياغتها.|لا يمكن إرسال هذه الرسالة. يرجى تعديلها والمحاولة مجددًا.|هذه الرسالة طويلة جدًا. يرجى اختصارها.|تعذّر الوصول إلى الدردشة الآن. يرجى المحاولة مجددًا.|استغرق الرد وقتًا طويلًا. يرجى المحاولة مجددًا.|حدث خطأ ما. يرجى المحاولة مجددًا.|تجاهل|يرجى تسجيل الدخول للدردشة.|المصادر',
  he: 'צ׳אט|פתיחת הצ׳אט|סגירת הצ׳אט|הודעה|שליחה|עצירה|ניסיון חוזר|העתקה|הועתק|ניקוי השיחה|הצעות|יצירה|תארו את התמונה|יוצר…|הורדה|תוצאה|הצ׳אט הזה אינו זמין בדף זה.|יותר מדי הודעות כרגע. נא להמתין רגע ולנסות שוב.|הצ׳אט הגיע למגבלת השימוש. נא לנסות שוב מאוחר יותר.|לא ניתן לשלוח את ההודעה. נא לנסח אותה מחדש.|לא ניתן לשלוח את ההודעה. נא לשנות אותה ולנסות שוב.|ההודעה ארוכה מדי. נא לקצר אותה.|לא ניתן להתחבר לצ׳אט כרגע. נא לנסות שוב.|התשובה התעכבה יותר מדי. נא לנסות שוב.|משהו השתבש. נא לנסות שוב.|סגירה|נא להתחבר כדי לשוחח.|מקורות',
};

/**
 * The locales the widget ships, as language subtags.
 *
 * @example
 * ```ts
 * SUPPORTED_LOCALES.includes('ja'); // true
 * ```
 */
export const SUPPORTED_LOCALES = /* @__PURE__ */ Object.keys(locales);

/**
 * The supported locale closest to `requested` (a BCP 47 tag such as `pt-BR`),
 * matched on its language; `en` when none matches.
 *
 * @example
 * ```ts
 * resolveLocale('fr-CA'); // 'fr'
 * resolveLocale('xx'); // 'en'
 * ```
 */
export function resolveLocale(requested: string | undefined): string {
  const language = (requested ?? '').toLowerCase().split(/[-_]/)[0]!;
  return language in locales ? language : 'en';
}

/**
 * The strings of `locale` (resolved with {@link resolveLocale}) with `overrides` on top.
 *
 * @example
 * ```ts
 * stringsFor('de', { send: 'Los' }).send; // 'Los'
 * ```
 */
export function stringsFor(locale: string | undefined, overrides: Partial<WidgetStrings> = {}): WidgetStrings {
  const values = locales[resolveLocale(locale)]!.split('|');
  const strings = Object.fromEntries(keys.map((key, index) => [key, values[index]!])) as unknown as WidgetStrings;
  return { ...strings, ...overrides };
}

/**
 * Whether a locale is written right to left.
 *
 * @example
 * ```ts
 * isRightToLeft('ar'); // true
 * ```
 */
export function isRightToLeft(locale: string): boolean {
  return locale === 'ar' || locale === 'he';
}

const errorKeys: Partial<Record<ErrorCode, keyof WidgetStrings>> = {
  origin_not_allowed: 'errorUnavailable',
  widget_not_found: 'errorUnavailable',
  widget_disabled: 'errorUnavailable',
  rate_limited: 'errorTryLater',
  upstream_rate_limited: 'errorTryLater',
  quota_exhausted: 'errorLimit',
  upstream_quota_exhausted: 'errorLimit',
  prompt_blocked: 'errorBlocked',
  input_invalid: 'errorInvalid',
  payload_too_large: 'errorTooLong',
  upstream_unavailable: 'errorNetwork',
  upstream_timeout: 'errorTimeout',
  limits_unavailable: 'errorTryLater',
  service_unavailable: 'errorTryLater',
  sign_in_required: 'errorSignIn',
};

/**
 * The sentence shown to a visitor for an error code. Visitors see these words,
 * never the server's message: it is written for developers and may name things
 * a visitor cannot act on.
 *
 * @example
 * ```ts
 * errorText('rate_limited', stringsFor('en')); // 'Too many messages right now. …'
 * ```
 */
export function errorText(code: ErrorCode, strings: WidgetStrings): string {
  return strings[errorKeys[code] ?? 'errorGeneric'];
}
