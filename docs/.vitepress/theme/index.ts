// The default theme, plus the few style rules in custom.css.
import DefaultTheme from "vitepress/theme";
import "./custom.css";

export default DefaultTheme;
