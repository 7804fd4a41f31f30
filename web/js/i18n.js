// Every UI string in zh-CN and en, plus date/time formatting in the SHOP's time zone (a promise
// means shop time, whatever zone the device happens to be set to).
import { zonedParts, isValidZone } from './time.js';

const STORAGE_KEY = 'bayline.lang';
export const LANGS = ['zh-CN', 'en'];

const en = {
  'top.brand': 'Bayline',
  'top.switchUser': 'Switch user',
  'top.switchLanguage': 'Switch language',
  'top.skip': 'Skip to content',
  'top.updateAvailable': 'New version available',
  'top.reload': 'Reload',
  'top.signedOutIdle': 'Signed out after {minutes} minutes without activity.',
  'top.sessionExpired': 'Your session ended. Please sign in again.',
  'common.loading': 'Loading…',
  'common.retry': 'Try again',
  'common.cancel': 'Cancel',
  'common.remove': 'Remove',
  'common.optional': 'optional',
  'boot.failedTitle': 'Bayline can’t reach the server',
  'boot.failedBody': 'Something went wrong while starting. Try again in a moment.',
  'error.network': 'No connection to the server. Check the Wi-Fi and try again.',
  'error.rateLimited': 'Too many requests. Please wait a moment and try again.',
  'error.rateLimitedIn': 'Too many requests. Try again in {seconds} s.',
  'error.status': 'The server could not do that (error {status}).',
  'error.unexpected': 'Something unexpected went wrong. Please try again.',
  'form.required': 'Required',
  'form.pinDigits': 'The PIN must be 4 to 8 digits.',
  'form.pinMismatch': 'The two PINs are not the same.',

  'role.advisor': 'Service advisor',
  'role.technician': 'Technician',
  'role.foreman': 'Foreman',
  'role.manager': 'Service manager',

  'stage.checked_in': 'Checked in',
  'stage.in_progress': 'In progress',
  'stage.quality_check': 'Quality check',
  'stage.ready': 'Ready',
  'stage.delivered': 'Delivered',

  'job.recommended': 'Recommended',
  'job.declined': 'Declined',
  'job.pending': 'Pending',
  'job.assigned': 'Assigned',
  'job.in_progress': 'In progress',
  'job.paused': 'Paused',
  'job.finished': 'Finished',
  'job.qc_passed': 'QC passed',
  'job.rework': 'Rework',

  'time.today': 'Today',
  'time.tomorrow': 'Tomorrow',
  'time.yesterday': 'Yesterday',

  'setup.title': 'Welcome to Bayline',
  'setup.lead': 'Set up your workshop. This takes a minute and is done once.',
  'setup.shopSection': 'Your shop',
  'setup.shopName': 'Shop name',
  'setup.timezone': 'Time zone',
  'setup.timezoneHint': 'Promised times and reports use this zone.',
  'setup.language': 'Language',
  'setup.managerSection': 'First manager',
  'setup.managerHint': 'This person can add the rest of the team and unlock locked accounts.',
  'setup.managerName': 'Full name',
  'setup.username': 'Username',
  'setup.usernameHint': 'Lower-case letters and digits, e.g. lwei',
  'setup.pin': 'PIN',
  'setup.pinHint': '4 to 8 digits. Avoid easy ones like 1234 or a birthday.',
  'setup.pinConfirm': 'PIN again',
  'setup.submit': 'Create shop and sign in',

  'signin.title': 'Who are you?',
  'signin.lead': 'Tap your name, then enter your PIN.',
  'signin.noStaffTitle': 'No staff yet',
  'signin.noStaffBody': 'Ask a manager to add staff members. On the server this is done with:',
  'signin.back': 'Not me',
  'signin.enterPin': 'Enter your PIN',
  'signin.ok': 'OK',
  'signin.backspace': 'Delete last digit',
  'signin.wrongPin': 'Wrong PIN. Try again.',
  'signin.tooMany': 'Too many attempts. Try again in {seconds} s (or ask a manager to unlock).',

  'today.title': 'Today’s vehicles',
  'today.newRo': 'New repair order',
  'today.searchPlaceholder': 'Search plate, name or RO number',
  'today.emptyTitle': 'No vehicles yet today',
  'today.emptyBody': 'Tap “New repair order” when a customer arrives.',
  'today.noMatch': 'Nothing matches “{query}”.',
  'today.forbidden': 'Your role can’t see repair orders here.',
  'today.promised': 'Promised',
  'today.overdue': 'Overdue',
  'today.moved': 'Time changed',
  'today.jobsDone': '{done} of {total} jobs done',
  'today.noJobs': 'No jobs yet',
  'today.awaitingApproval': '{count} awaiting approval',
  'today.copyLink': 'Copy status link',
  'today.linkCopied': 'Status link copied.',
  'today.copyFailed': 'Could not copy. Select the link and copy it by hand.',
  'board.changePromise': 'Change promise',
  'camera.open': 'Camera',
  'camera.shoot': 'Take photo',
  'camera.done': 'Done',
  'camera.unavailable': 'The live camera is not available here: use “Add photo”.',
  'board.walkaround': 'Walk-around',
  'walk.title': 'Walk-around · {number}',
  'walk.back': 'Back to the board',
  'walk.tapHint': 'Tap where the damage is, then choose what it is and take photos.',
  'walk.marks': 'Damage',
  'walk.noMarks': 'No damage marked yet. Tap the outline where you see any.',
  'walk.noDamageSigned': 'No damage was recorded.',
  'walk.fuelMileage': 'Fuel and mileage',
  'walk.mileage': 'Mileage (km)',
  'walk.view.left': 'Left side',
  'walk.view.top': 'Top',
  'walk.view.right': 'Right side',
  'walk.view.front': 'Front',
  'walk.view.rear': 'Rear',
  'walk.type.scratch': 'Scratch',
  'walk.type.dent': 'Dent',
  'walk.type.chip': 'Chip',
  'walk.type.crack': 'Crack',
  'walk.type.other': 'Other',
  'walk.addPhoto': 'Add photo',
  'walk.lockedToast': 'Signed by the customer: the walk-around can no longer be changed.',
  'walk.signature': 'Customer signature',
  'walk.signIntro': 'The customer confirms the damage recorded above and the estimate.',
  'walk.signerName': 'Customer name',
  'walk.clear': 'Clear',
  'walk.sign': 'Customer signs',
  'walk.signFirst': 'Ask the customer to sign in the box first.',
  'walk.nameFirst': 'Enter the customer’s name.',
  'walk.signed': 'Signed. The walk-around is saved.',
  'walk.signedBy': 'Signed by {name}',
  'walk.photoRefused': 'A photo was refused; see the message under it.',
  'walk.photoWaiting': 'No connection: photos wait on this tablet and upload when it returns.',
  'board.customerApproved': 'Customer approved',
  'board.approved': 'Customer approved “{title}” ({number}).',
  'board.declined': 'Customer declined “{title}” ({number}).',
  'live.off': '',
  'live.connecting': 'Connecting…',
  'live.live': 'Live',
  'live.reconnecting': 'Reconnecting…',
  'live.offline': 'Offline',
  'promise.title': 'Change the promised time',
  'promise.date': 'New date',
  'promise.time': 'New time',
  'promise.commonReasons': 'Common reasons',
  'promise.reason': 'Reason (the customer sees this)',
  'promise.reasonHintEn': 'This customer reads English.',
  'promise.reasonHintZh': 'This customer reads Chinese: the common reasons are written in Chinese.',
  'promise.save': 'Save and tell the customer',
  'promise.saved': 'Promise for {number} changed; the customer sees it now.',
  'promise.needTime': 'Choose the new date and time.',
  'promise.needReason': 'Give a reason: the customer sees it.',
  'reason.parts': 'Waiting for parts to arrive',
  'reason.extraWork': 'Additional work you approved',
  'reason.diagnosis': 'The diagnosis is taking longer than expected',
  'reason.busy': 'The workshop is busier than planned',
  'reason.rework': 'Our quality check found something to redo',
  'reason.customer': 'Changed at your request',
  'reason.earlier': 'Good news: your car will be ready earlier',

  'newro.title': 'New repair order',
  'newro.customerSection': 'Customer',
  'newro.customerName': 'Customer name',
  'newro.phone': 'Mobile phone',
  'newro.customerLanguage': 'Customer’s language',
  'newro.customerLanguageHint': 'Used for the status page and messages.',
  'newro.vehicleSection': 'Vehicle',
  'newro.plate': 'Plate',
  'newro.vin': 'VIN',
  'newro.vinHint': '17 characters, on the windscreen or door pillar.',
  'newro.vinCount': '{count} of {total} characters',
  'newro.vinComplete': '17 characters ✓',
  'newro.vinBadChars': 'A VIN never contains I, O or Q — check for 1 and 0.',
  'newro.vinLength': 'A VIN has exactly 17 characters.',
  'newro.make': 'Make',
  'newro.model': 'Model',
  'newro.year': 'Year',
  'newro.yearRange': 'Enter a year between 1900 and {max}.',
  'newro.color': 'Colour',
  'newro.checkinSection': 'Check-in',
  'newro.mileage': 'Mileage (km)',
  'newro.mileageHint': 'As shown on the odometer.',
  'newro.fuel': 'Fuel level',
  'newro.concernsSection': 'Customer’s concerns',
  'newro.concernsHint': 'Write down what the customer says, in their own words.',
  'newro.concern': 'Concern',
  'newro.concernPlaceholder': 'e.g. “Squeaks when braking in the morning”',
  'newro.addConcern': 'Add concern',
  'newro.jobsSection': 'Jobs and estimate',
  'newro.jobsHint': 'Optional now: jobs can be added later. Blank rows are ignored.',
  'newro.jobTitle': 'Job',
  'newro.jobTitlePlaceholder': 'e.g. Replace front brake pads',
  'newro.hours': 'Estimated hours',
  'newro.hoursShort': '0.0',
  'newro.hoursUnit': 'h',
  'newro.hoursNeeded': 'Enter the estimated hours.',
  'newro.price': 'Price',
  'newro.priceShort': '0.00',
  'newro.priceUnit': '¥',
  'newro.priceInvalid': 'Enter a price like 380 or 380.50.',
  'newro.addJob': 'Add job',
  'newro.promiseSection': 'Promised time',
  'newro.promisedDate': 'Date',
  'newro.promisedTime': 'Time',
  'newro.inHours': 'In {hours} h',
  'newro.todayAt': 'Today {time}',
  'newro.tomorrowAt': 'Tomorrow {time}',
  'newro.shopTime': 'Shop time ({zone}).',
  'newro.promiseInPast': 'The promised time is in the past.',
  'newro.submit': 'Create repair order',
  'newro.sending': 'Saving…',
  'newro.discard': 'Discard this unsaved repair order?',
  'newro.created': 'Repair order created',
  'newro.statusLink': 'Customer’s status link',
  'newro.statusLinkHint': 'Send it to the customer by SMS or WeChat. It shows progress live.',
  'newro.backToToday': 'Back to today’s vehicles',
};

const zh = {
  'top.brand': 'Bayline',
  'top.switchUser': '切换用户',
  'top.switchLanguage': '切换语言',
  'top.skip': '跳到主要内容',
  'top.updateAvailable': '有新版本可用',
  'top.reload': '重新加载',
  'top.signedOutIdle': '{minutes} 分钟无操作，已自动退出。',
  'top.sessionExpired': '登录已失效，请重新登录。',
  'common.loading': '正在加载…',
  'common.retry': '重试',
  'common.cancel': '取消',
  'common.remove': '删除',
  'common.optional': '选填',
  'boot.failedTitle': '无法连接服务器',
  'boot.failedBody': '启动时出错，请稍后重试。',
  'error.network': '无法连接服务器，请检查 Wi-Fi 后重试。',
  'error.rateLimited': '请求过于频繁，请稍候再试。',
  'error.rateLimitedIn': '请求过于频繁，请 {seconds} 秒后再试。',
  'error.status': '服务器无法完成此操作（错误 {status}）。',
  'error.unexpected': '发生意外错误，请重试。',
  'form.required': '必填',
  'form.pinDigits': 'PIN 须为 4 到 8 位数字。',
  'form.pinMismatch': '两次输入的 PIN 不一致。',

  'role.advisor': '服务顾问',
  'role.technician': '维修技师',
  'role.foreman': '车间主管',
  'role.manager': '服务经理',

  'stage.checked_in': '已接车',
  'stage.in_progress': '维修中',
  'stage.quality_check': '质检中',
  'stage.ready': '待交车',
  'stage.delivered': '已交车',

  'job.recommended': '建议项目',
  'job.declined': '客户拒绝',
  'job.pending': '待派工',
  'job.assigned': '已派工',
  'job.in_progress': '作业中',
  'job.paused': '已暂停',
  'job.finished': '已完工',
  'job.qc_passed': '质检通过',
  'job.rework': '返工',

  'time.today': '今天',
  'time.tomorrow': '明天',
  'time.yesterday': '昨天',

  'setup.title': '欢迎使用 Bayline',
  'setup.lead': '设置您的维修车间。只需一分钟，仅需设置一次。',
  'setup.shopSection': '门店信息',
  'setup.shopName': '门店名称',
  'setup.timezone': '时区',
  'setup.timezoneHint': '承诺交车时间和报表均按此时区显示。',
  'setup.language': '语言',
  'setup.managerSection': '首位管理员',
  'setup.managerHint': '此人可以添加其他员工，并为被锁定的账号解锁。',
  'setup.managerName': '姓名',
  'setup.username': '用户名',
  'setup.usernameHint': '小写字母和数字，例如 lwei',
  'setup.pin': 'PIN 码',
  'setup.pinHint': '4 到 8 位数字。请勿使用 1234 或生日等易猜的数字。',
  'setup.pinConfirm': '再次输入 PIN 码',
  'setup.submit': '创建门店并登录',

  'signin.title': '请选择您的名字',
  'signin.lead': '点击您的名字，然后输入 PIN 码。',
  'signin.noStaffTitle': '还没有员工',
  'signin.noStaffBody': '请服务经理添加员工。在服务器上执行：',
  'signin.back': '不是我',
  'signin.enterPin': '请输入 PIN 码',
  'signin.ok': '确定',
  'signin.backspace': '删除最后一位',
  'signin.wrongPin': 'PIN 码错误，请重试。',
  'signin.tooMany': '尝试次数过多。请 {seconds} 秒后再试（或请服务经理解锁）。',

  'today.title': '今日车辆',
  'today.newRo': '新建维修委托书',
  'today.searchPlaceholder': '搜索车牌、客户姓名或单号',
  'today.emptyTitle': '今天还没有车辆',
  'today.emptyBody': '客户到店时，点击“新建维修委托书”。',
  'today.noMatch': '没有与“{query}”匹配的车辆。',
  'today.forbidden': '您的角色无权在此查看维修委托书。',
  'today.promised': '承诺交车',
  'today.overdue': '已超时',
  'today.moved': '时间已变更',
  'today.jobsDone': '已完成 {done}/{total} 项',
  'today.noJobs': '暂无维修项目',
  'today.awaitingApproval': '{count} 项待客户确认',
  'today.copyLink': '复制进度链接',
  'today.linkCopied': '进度链接已复制。',
  'today.copyFailed': '无法复制，请手动选择链接复制。',
  'board.changePromise': '修改交车时间',
  'camera.open': '相机',
  'camera.shoot': '拍照',
  'camera.done': '完成',
  'camera.unavailable': '此设备无法使用实时相机，请点“拍照”。',
  'board.walkaround': '环车检查',
  'walk.title': '环车检查 · {number}',
  'walk.back': '返回看板',
  'walk.tapHint': '点击车身损伤位置，选择损伤类型并拍照。',
  'walk.marks': '车身损伤',
  'walk.noMarks': '尚未标记损伤。发现损伤时请点击车身图。',
  'walk.noDamageSigned': '未记录损伤。',
  'walk.fuelMileage': '油量与里程',
  'walk.mileage': '里程（公里）',
  'walk.view.left': '左侧',
  'walk.view.top': '车顶',
  'walk.view.right': '右侧',
  'walk.view.front': '车头',
  'walk.view.rear': '车尾',
  'walk.type.scratch': '划痕',
  'walk.type.dent': '凹陷',
  'walk.type.chip': '掉漆',
  'walk.type.crack': '裂纹',
  'walk.type.other': '其他',
  'walk.addPhoto': '拍照',
  'walk.lockedToast': '客户已签字，环车检查不能再修改。',
  'walk.signature': '客户签字',
  'walk.signIntro': '客户确认上述车身损伤记录及维修估价。',
  'walk.signerName': '客户姓名',
  'walk.clear': '清除',
  'walk.sign': '客户签字确认',
  'walk.signFirst': '请客户先在框内签字。',
  'walk.nameFirst': '请输入客户姓名。',
  'walk.signed': '已签字，环车检查已保存。',
  'walk.signedBy': '{name} 已签字',
  'walk.photoRefused': '有照片被拒收，请查看照片下方的说明。',
  'walk.photoWaiting': '网络未连接：照片保存在本机，恢复连接后自动上传。',
  'board.customerApproved': '客户已同意',
  'board.approved': '客户已同意“{title}”（{number}）。',
  'board.declined': '客户已拒绝“{title}”（{number}）。',
  'live.off': '',
  'live.connecting': '正在连接…',
  'live.live': '实时',
  'live.reconnecting': '正在重新连接…',
  'live.offline': '离线',
  'promise.title': '修改承诺交车时间',
  'promise.date': '新日期',
  'promise.time': '新时间',
  'promise.commonReasons': '常见原因',
  'promise.reason': '原因（客户可见）',
  'promise.reasonHintEn': '该客户使用英文：常见原因将以英文填写。',
  'promise.reasonHintZh': '该客户使用中文。',
  'promise.save': '保存并通知客户',
  'promise.saved': '{number} 的交车时间已修改，客户已可看到。',
  'promise.needTime': '请选择新的日期和时间。',
  'promise.needReason': '请填写原因：客户会看到。',
  'reason.parts': '等待配件到货',
  'reason.extraWork': '增加了您确认的维修项目',
  'reason.diagnosis': '故障诊断比预期耗时',
  'reason.busy': '车间排期比预期紧张',
  'reason.rework': '质检发现需要返工的问题',
  'reason.customer': '按您的要求调整',
  'reason.earlier': '好消息：可以提前交车',

  'newro.title': '新建维修委托书',
  'newro.customerSection': '客户',
  'newro.customerName': '客户姓名',
  'newro.phone': '手机号',
  'newro.customerLanguage': '客户语言',
  'newro.customerLanguageHint': '用于进度页面和通知消息。',
  'newro.vehicleSection': '车辆',
  'newro.plate': '车牌号',
  'newro.vin': '车架号（VIN）',
  'newro.vinHint': '17 位，见前挡风玻璃或车门立柱。',
  'newro.vinCount': '已输入 {count}/{total} 位',
  'newro.vinComplete': '17 位 ✓',
  'newro.vinBadChars': '车架号不含 I、O、Q，请检查是否为 1 和 0。',
  'newro.vinLength': '车架号必须为 17 位。',
  'newro.make': '品牌',
  'newro.model': '车型',
  'newro.year': '年款',
  'newro.yearRange': '请输入 1900 到 {max} 之间的年份。',
  'newro.color': '颜色',
  'newro.checkinSection': '接车检查',
  'newro.mileage': '行驶里程（公里）',
  'newro.mileageHint': '以仪表显示为准。',
  'newro.fuel': '油量',
  'newro.concernsSection': '客户描述',
  'newro.concernsHint': '按客户的原话记录故障描述。',
  'newro.concern': '故障描述',
  'newro.concernPlaceholder': '例如：“早上刹车时有异响”',
  'newro.addConcern': '添加描述',
  'newro.jobsSection': '维修项目与报价',
  'newro.jobsHint': '可稍后添加。空白行将被忽略。',
  'newro.jobTitle': '维修项目',
  'newro.jobTitlePlaceholder': '例如：更换前刹车片',
  'newro.hours': '预估工时',
  'newro.hoursShort': '0.0',
  'newro.hoursUnit': '工时',
  'newro.hoursNeeded': '请填写预估工时。',
  'newro.price': '价格',
  'newro.priceShort': '0.00',
  'newro.priceUnit': '¥',
  'newro.priceInvalid': '请输入有效价格，如 380 或 380.50。',
  'newro.addJob': '添加项目',
  'newro.promiseSection': '承诺交车时间',
  'newro.promisedDate': '日期',
  'newro.promisedTime': '时间',
  'newro.inHours': '{hours} 小时后',
  'newro.todayAt': '今天 {time}',
  'newro.tomorrowAt': '明天 {time}',
  'newro.shopTime': '门店时间（{zone}）。',
  'newro.promiseInPast': '承诺时间已过去。',
  'newro.submit': '创建维修委托书',
  'newro.sending': '正在保存…',
  'newro.discard': '放弃这张未保存的维修委托书？',
  'newro.created': '维修委托书已创建',
  'newro.statusLink': '客户进度链接',
  'newro.statusLinkHint': '通过短信或微信发给客户，可实时查看维修进度。',
  'newro.backToToday': '返回今日车辆',
};

export const dictionaries = { en, 'zh-CN': zh };

let lang = 'en';
let shopZone = 'Asia/Shanghai';
const listeners = new Set();

function detect() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    /* private mode: fall back to the device language */
  }
  return /^zh/i.test(navigator.language || '') ? 'zh-CN' : 'en';
}

export function initLang() {
  lang = detect();
  document.documentElement.lang = lang;
}

export const getLang = () => lang;

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* not persisted; still switched for this visit */
  }
  listeners.forEach((fn) => fn(lang));
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** t('today.jobsDone', {done: 1, total: 3}). Missing keys fall back to English, then to the key. */
export function t(key, params) {
  let text = dictionaries[lang][key] ?? en[key];
  if (text === undefined) {
    // Unknown stage/state values from a newer server still read sensibly ("waiting_parts" → "waiting parts").
    text = key.includes('.') ? key.slice(key.indexOf('.') + 1).replace(/_/g, ' ') : key;
  }
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (params[name] ?? m));
  return text;
}

export function setShopTimeZone(zone) {
  if (zone && isValidZone(zone) && zone !== shopZone) {
    shopZone = zone;
    listeners.forEach((fn) => fn(lang)); // re-render times already on screen
  }
}

export const getShopTimeZone = () => shopZone;

const formatters = new Map();
function formatter(kind) {
  const id = `${lang}|${shopZone}|${kind}`;
  if (!formatters.has(id)) {
    const base = { timeZone: shopZone, hourCycle: 'h23' };
    const opts = {
      time: { ...base, hour: '2-digit', minute: '2-digit' },
      date: { timeZone: shopZone, year: 'numeric', month: 'short', day: 'numeric', weekday: 'short' },
      short: { ...base, month: 'short', day: 'numeric', weekday: 'short', hour: '2-digit', minute: '2-digit' },
      datetime: { ...base, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' },
    }[kind];
    formatters.set(id, new Intl.DateTimeFormat(lang === 'zh-CN' ? 'zh-CN' : 'en-GB', opts));
  }
  return formatters.get(id);
}

/**
 * Format an ISO instant in the shop's zone. kinds: time, date, short, datetime, and smart
 * ("Today 17:30", "Tomorrow 10:00", else "Thu 2 May, 10:00") — advisors think in days.
 */
export function formatDateTime(iso, kind = 'datetime') {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  if (kind !== 'smart') return formatter(kind).format(date);
  const day = (d) => {
    const p = zonedParts(d, shopZone);
    return Date.UTC(p.year, p.month - 1, p.day) / 86400000;
  };
  const diff = day(date) - day(new Date());
  const rel = { 0: 'time.today', 1: 'time.tomorrow', '-1': 'time.yesterday' }[diff];
  return rel ? `${t(rel)} ${formatter('time').format(date)}` : formatter('short').format(date);
}
